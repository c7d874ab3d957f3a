using Laps.Scheduling.Acceptance;
using Laps.Scheduling.Policies;

namespace Laps.Scheduling.Requests;

/// <summary>
/// What the scheduler knows about one request: what arrived with it and what the workers reported since.
/// It never holds the request's true length or acceptance; <see cref="Oracle"/> exists only for the oracle
/// bound in simulation and is null in live serving.
/// </summary>
public sealed class RequestState
{
    public RequestState(long id, double arrivalTime, int promptTokens, int? maxTokens = null)
    {
        if (promptTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(promptTokens), promptTokens, "prompt tokens must be >= 0");
        }

        Id = id;
        ArrivalTime = arrivalTime;
        PromptTokens = promptTokens;
        MaxTokens = maxTokens;
    }

    public long Id { get; }
    public double ArrivalTime { get; }
    public int PromptTokens { get; }
    public int? MaxTokens { get; }

    /// <summary>
    /// The prompt's token ids, when the host knows them (live serving: the tokenised prompt; traces: their
    /// <c>prompt_token_ids</c>). Prompt-based length predictors read them; null when unknown.
    /// </summary>
    public IReadOnlyList<int>? PromptTokenIds { get; init; }

    /// <summary>
    /// A client's own estimate of the output length in tokens (e.g. a request header), or null. Predictors may use
    /// it (see <see cref="Prediction.OnlineLengthPredictor"/> for its rule); values &lt;= 0 or not finite are ignored.
    /// </summary>
    public double? LengthHint { get; init; }

    /// <summary>
    /// Who sent the request (an API key's tenant, a header, or <see cref="FairShare.DefaultTenant"/>): with fair share on,
    /// tenants share the queue and the batch slots (<see cref="FairShare"/>).
    /// </summary>
    public string Tenant { get; init; } = FairShare.DefaultTenant;

    /// <summary>Predicted total output length L̂ in tokens (set at admission, may be refreshed).</summary>
    public double PredictedLength { get; set; } = 1;

    public int Generated { get; private set; }
    public int Steps => Acceptance.Steps;
    public AcceptanceTracker Acceptance { get; } = new();

    /// <summary>GPU time this request has occupied a batch slot, in seconds.</summary>
    public double AttainedService { get; private set; }

    public bool Perceptible { get; internal set; }
    public double? PerceptibleAt { get; internal set; }

    /// <summary>Estimated remaining execution time when the request became perceptible (for the estimate's error).</summary>
    public double? EstimateAtPerceptible { get; internal set; }
    public int StepsAtPerceptible { get; internal set; }

    public double? FirstTokenTime { get; private set; }
    public double? FinishTime { get; internal set; }
    public int Preemptions { get; internal set; }

    /// <summary>True while the request holds a slot in the current batch (set by the batch scheduler).</summary>
    public bool Running { get; internal set; }

    /// <summary>
    /// Seconds it would cost to resume this request if it lost its batch slot now: 0 while its KV cache stays on the
    /// worker, the recompute of its prompt and generated tokens when preemption drops it. Set by the host.
    /// </summary>
    public double ResumeCostSeconds { get; set; }

    /// <summary>Simulation-only ground truth for the oracle bound; null when serving live.</summary>
    public OracleInfo? Oracle { get; init; }

    /// <summary>The admitting policy's state for this request; null while it is not admitted.</summary>
    internal PolicyEntry? Entry;

    /// <summary>The pool scheduler's account of this request's tenant while it is admitted.</summary>
    internal TenantAccount? Account;

    /// <summary>Records one speculative-decoding step that this request took part in.</summary>
    public void RecordStep(int emitted, int drafted, int accepted, double stepSeconds, double now)
    {
        if (emitted < 0 || drafted < 0 || accepted < 0 || accepted > drafted)
        {
            throw new ArgumentException($"inconsistent step report: emitted={emitted} drafted={drafted} accepted={accepted}");
        }

        Generated += emitted;
        AttainedService += stepSeconds;
        Acceptance.Record(drafted, accepted);
        if (FirstTokenTime is null && emitted > 0)
        {
            FirstTokenTime = now;
        }
    }

    public override string ToString() => $"req {Id} (gen {Generated}/{PredictedLength:F0}, att {AttainedService * 1000:F1} ms)";
}

/// <summary>Ground truth known only to a simulator: the oracle policy may read it, nothing else should.</summary>
public sealed record OracleInfo(int TrueLength, double TrueAcceptance);
