using Laps.Scheduling.Collections;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>
/// LAPS-SD (Least-Attained/Perceived-Service for Speculative Decoding). A new request is non-perceptible: it
/// enters the top queue and is demoted as its attained GPU time passes θ_0·r^j, least attained first. Once its
/// acceptance rate is stable it becomes perceptible: its remaining execution time is estimated and it runs ahead
/// of the non-perceptible requests of its queue, shortest estimate first. <see cref="LapsVariant"/> decides its
/// queue; <see cref="RemainingEstimate"/> how the estimate is made.
/// </summary>
public sealed class LapsPolicy : SchedulingPolicy
{
    public const string PolicyName = "laps";
    private readonly AttainedServiceLevels _levels;
    private readonly LengthPosterior? _posterior;

    public LapsPolicy(PolicyContext context, LapsOptions? options = null)
        : base(context, Checked(options).Aging)
    {
        Options = options ?? new LapsOptions();
        _levels = AttainedServiceLevels.FromThresholds(Options.Queues, Options.Theta0Steps * context.StepSeconds, Options.Ratio);
        if (Options.Estimate != RemainingEstimate.Point)
        {
            _posterior = new LengthPosterior(Options.PosteriorCapacity, Options.PosteriorNeighbours);
        }
    }

    public LapsOptions Options { get; }
    public override string Name => PolicyName;

    protected override bool KeyDependsOnRunning => Options.CostAwarePreemption;

    public override double? EstimatedRemainingSeconds(RequestState request)
    {
        var tokens = _posterior is { Ready: true }
            ? LengthPosterior.ExpectedRemaining(Neighbourhood(request), request.Generated)
            : Math.Max(request.PredictedLength - request.Generated, 1);
        return ToSeconds(request, tokens);
    }

    public override void OnCompleted(RequestState request, int trueLength) => _posterior?.Observe(request.PredictedLength, trueLength);

    /// <summary>The queue in the key (keys interleave two sub-levels per queue); a boosted request keeps its own.</summary>
    public override int QueueLevel(RequestState request)
    {
        var level = CurrentKey(request).Level;
        return level >= 0 ? level / 2 : EntryOf(request).Level;
    }

    protected override void OnAdmitted(RequestState request) => UpdatePerceptibility(request);

    protected override void OnStepped(RequestState request) => UpdatePerceptibility(request);

    protected override Priority KeyFor(RequestState request)
    {
        var entry = EntryOf(request);
        if (!request.Perceptible)
        {
            entry.Level = _levels.LevelOf(request.AttainedService);
            if (!Options.PredictBeforeStable || entry.Level == 0)
            {
                return new((2 * entry.Level) + 1, request.AttainedService, request.ArrivalTime, request.Id);
            }
        }

        var rank = Rank(request);
        if (Options.CostAwarePreemption && request.Running)
        {
            rank = Math.Max(0, rank - request.ResumeCostSeconds);
        }


        var queue = Options.Variant switch
        {
            LapsVariant.Perceived => _levels.LevelOf(rank),
            _ when Options.DemoteAfterPerceptible => _levels.LevelOf(request.AttainedService),
            _ => entry.Level,
        };
        if (Options.ReserveTopQueue && queue == 0 && Options.Queues > 1)
        {
            queue = 1;
        }

        return new(2 * queue, rank, request.ArrivalTime, request.Id);
    }

    /// <summary>Seconds by which perceptible requests are ordered: an estimate of remaining time, or its Gittins rank.</summary>
    private double Rank(RequestState request)
    {
        if (_posterior is not { Ready: true })
        {
            return ToSeconds(request, Math.Max(request.PredictedLength - request.Generated, 1));
        }

        var sample = Neighbourhood(request);
        var tokens = Options.Estimate == RemainingEstimate.Gittins
            ? LengthPosterior.GittinsRank(sample, request.Generated)
            : LengthPosterior.ExpectedRemaining(sample, request.Generated);
        return ToSeconds(request, tokens);
    }

    private double ToSeconds(RequestState request, double remainingTokens)
        => ExecutionTimeEstimator.Total(remainingTokens, Context.K, request.Acceptance.Rate(Context.PriorAcceptance, Options.AcceptancePriorSteps * Context.K), Context.StepSeconds);

    private int[] Neighbourhood(RequestState request)
    {
        // The neighbourhood depends only on the prediction and the posterior's snapshot: cache it per admitted request.
        var entry = request.Entry;
        if (entry?.Scratch is CachedNeighbourhood cached && cached.Version == _posterior!.Version)
        {
            return cached.Lengths;
        }

        var sample = Options.Conditioning == PosteriorConditioning.Ratio
            ? _posterior!.ScaledByRatios(request.PredictedLength)
            : _posterior!.Neighbourhood(request.PredictedLength);
        var fresh = new CachedNeighbourhood(_posterior.Version, sample);
        entry?.Scratch = fresh;
        return fresh.Lengths;
    }

    private void UpdatePerceptibility(RequestState request)
    {
        if (request.Perceptible
            || !request.Acceptance.IsStable(Options.StabilityWindow, Options.StabilityTolerance, Options.MinSteps))
        {
            return;
        }

        // Under the paper's reading the request keeps the queue its attained service had reached.
        EntryOf(request).Level = _levels.LevelOf(request.AttainedService);
        request.Perceptible = true;
        request.StepsAtPerceptible = request.Steps;
        request.EstimateAtPerceptible = EstimatedRemainingSeconds(request);
    }

    private static LapsOptions Checked(LapsOptions? options)
    {
        options ??= new LapsOptions();
        options.Validate();
        return options;
    }

    private sealed record CachedNeighbourhood(int Version, int[] Lengths);
}
