namespace Laps.Scheduling.Policies;

/// <summary>Where a perceptible request sits.</summary>
public enum LapsVariant
{
    /// <summary>The literal reading: it stays in the queue its attained service put it in (no demotion by default).</summary>
    Paper,

    /// <summary>It moves to the queue whose attained-service band contains its estimated remaining time.</summary>
    Perceived,
}

/// <summary>How a perceptible request's remaining execution time is estimated.</summary>
public enum RemainingEstimate
{
    /// <summary>The paper's formula: max(L̂ − generated, 1) / (k·Â + 1) · step cost.</summary>
    Point,

    /// <summary>E[L − generated | L &gt; generated, L̂] from completed requests with similar predictions.</summary>
    Posterior,

    /// <summary>The Gittins rank of that posterior (optimal order for a known size distribution).</summary>
    Gittins,
}

/// <summary>How the length posterior conditions on a request's prediction.</summary>
public enum PosteriorConditioning
{
    /// <summary>True lengths of the completions whose predictions were nearest (captures regression to the mean).</summary>
    Neighbours,

    /// <summary>The prediction times every completion's true/predicted ratio (uses all observations; assumes the error is multiplicative).</summary>
    Ratio,
}

/// <summary>
/// Every knob of LAPS-SD (docs/policies.md; each one is described once, with its option, configuration key and CRD
/// field, in <see cref="SchedulerKnobs"/>). <c>new LapsOptions()</c> is the product default, the best measured
/// (docs/evaluation.md): perceived service, Gittins order on a length posterior learned from completed requests'
/// prediction errors, θ_0 of 2 steps, the top queue kept for first quanta, prediction before stability.
/// <see cref="Paper"/> is the literal reading (the paper preset of docs/policies.md).
/// </summary>
public sealed record LapsOptions
{
    public int Queues { get; init; } = 4;

    /// <summary>θ_0 in steps of <see cref="PolicyContext.StepSeconds"/>; θ_j = θ_0 · r^j in attained GPU time.</summary>
    public double Theta0Steps { get; init; } = 2;

    public double Ratio { get; init; } = 2;

    public int StabilityWindow { get; init; } = 5;

    /// <summary>Largest move of the cumulative acceptance over the window that still counts as stable (0: never; ∞: always).</summary>
    public double StabilityTolerance { get; init; } = 0.05;

    public int MinSteps { get; init; } = 5;

    public bool DemoteAfterPerceptible { get; init; }

    /// <summary>
    /// Weight of the prior acceptance in Â, in steps' worth of drafts (0: the plain cumulative rate, as the paper).
    /// </summary>
    public double AcceptancePriorSteps { get; init; } = 4;

    /// <summary>
    /// Keep the top queue for requests still in their first quantum, so a newcomer's first token waits for no
    /// perceptible request (time to first token of about one step). Not in the paper.
    /// </summary>
    public bool ReserveTopQueue { get; init; } = true;

    /// <summary>
    /// After its first quantum, a request not yet perceptible is ordered by its predicted remaining time too (with
    /// the acceptance observed so far) instead of by attained service; stability then only decides which acceptance
    /// the estimate trusts. Not in the paper.
    /// </summary>
    public bool PredictBeforeStable { get; init; } = true;

    /// <summary>
    /// A running request's rank is lowered by what resuming it would cost (<see cref="Requests.RequestState.ResumeCostSeconds"/>),
    /// so a challenger in the same queue preempts it only when the expected gain exceeds the resume cost. Not in the paper.
    /// </summary>
    public bool CostAwarePreemption { get; init; } = true;

    public LapsVariant Variant { get; init; } = LapsVariant.Perceived;

    public RemainingEstimate Estimate { get; init; } = RemainingEstimate.Gittins;

    /// <summary>Optional aging: off in the paper.</summary>
    public StarvationGuard? Aging { get; init; }

    /// <summary>Completed requests the posterior remembers, and how many nearest predictions it conditions on.</summary>
    public int PosteriorCapacity { get; init; } = 2048;

    public int PosteriorNeighbours { get; init; } = 64;

    public PosteriorConditioning Conditioning { get; init; } = PosteriorConditioning.Ratio;

    /// <summary>
    /// The paper's reading, every knob at the paper's value. Variant <see cref="LapsVariant.Paper"/> means this whole
    /// preset wherever it is given (<c>laps sim</c>, <c>laps up</c>, <c>laps scheduler</c>, the sidecar's
    /// configuration, an InferencePool), with the knobs given beside it overriding it.
    /// </summary>
    public static LapsOptions Paper { get; } = new()
    {
        Variant = LapsVariant.Paper,
        Estimate = RemainingEstimate.Point,
        Theta0Steps = 8,
        ReserveTopQueue = false,
        PredictBeforeStable = false,
        AcceptancePriorSteps = 0,
        CostAwarePreemption = false,
    };

    public void Validate()
    {
        if (Queues is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(Queues), Queues, "LAPS queues must be in 1..64");
        }

        if (!(Theta0Steps > 0) || double.IsInfinity(Theta0Steps))
        {
            throw new ArgumentOutOfRangeException(nameof(Theta0Steps), Theta0Steps, "LAPS theta0 must be a positive number of steps");
        }

        if (!(Ratio >= 1) || double.IsInfinity(Ratio))
        {
            throw new ArgumentOutOfRangeException(nameof(Ratio), Ratio, "LAPS threshold ratio must be >= 1");
        }

        if (StabilityWindow is < 1 or > Acceptance.AcceptanceTracker.MaxWindow)
        {
            throw new ArgumentOutOfRangeException(nameof(StabilityWindow), StabilityWindow, $"LAPS stability window must be in 1..{Acceptance.AcceptanceTracker.MaxWindow} steps");
        }

        if (!(StabilityTolerance >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(StabilityTolerance), StabilityTolerance, "LAPS stability tolerance must be >= 0 (may be infinity)");
        }

        if (MinSteps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MinSteps), MinSteps, "LAPS minimum steps must be >= 0");
        }

        if (PosteriorNeighbours < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(PosteriorNeighbours), PosteriorNeighbours, "LAPS posterior neighbours must be >= 1");
        }

        if (PosteriorCapacity < Math.Max(PosteriorNeighbours, 2))
        {
            throw new ArgumentOutOfRangeException(
                nameof(PosteriorCapacity), PosteriorCapacity, $"LAPS posterior capacity must be >= 2 and hold the {PosteriorNeighbours} posterior neighbours");
        }

        if (!(AcceptancePriorSteps >= 0) || double.IsInfinity(AcceptancePriorSteps))
        {
            throw new ArgumentOutOfRangeException(nameof(AcceptancePriorSteps), AcceptancePriorSteps, "LAPS acceptance prior steps must be a finite number >= 0");
        }

        Aging?.Validate();
    }
}
