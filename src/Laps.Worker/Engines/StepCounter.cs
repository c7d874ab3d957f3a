namespace Laps.Worker.Engines;

/// <summary>What a stream event adds to a sequence's SD accounting.</summary>
public readonly record struct StepDelta(int Steps, int Drafted, int Accepted);

/// <summary>
/// Turns one engine request's stream into SD steps, drafted and accepted tokens. The first event with tokens is the
/// prefill step, which samples one token and verifies no drafts. Where the engine reports running verify counts on
/// each event (SGLang's <c>spec_verify_ct</c> and accepted drafts) they are exact. Otherwise (vLLM) an event with n
/// tokens is one step with n − 1 accepted drafts, unless n exceeds k + 1, which only merged events (a slow reader,
/// a stream interval, a stop-string holdback) can carry: then it counts the fewest steps that emit n tokens,
/// ⌈n/(k+1)⌉; and when the engine reports the request's exact totals at the end (vLLM's per-request
/// speculative-decoding metrics), the difference is returned as a correction. Not thread-safe.
/// </summary>
public sealed class StepCounter(int k)
{
    private bool _sawTokens;
    private bool _exact;
    private int _steps;
    private int _drafted;
    private int _accepted;
    private int _lastVerify;
    private int _lastAccepted;
    private int _lastDrafted;

    /// <summary>Some event carried more tokens than one step can emit: the counts between events were estimated.</summary>
    public bool MergeDetected { get; private set; }

    /// <summary>The engine's own totals corrected the estimate.</summary>
    public bool Reconciled { get; private set; }

    public int Steps => _steps;

    public int Accepted => _accepted;

    public StepDelta Observe(EngineChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var n = chunk.TokenIds.Count;
        var delta = n > 0 && chunk.SpecVerifySteps is { } verify && (_exact || !_sawTokens)
            ? Exact(chunk, n, verify)
            : n > 0 ? Estimate(n) : Reconcile(chunk);
        _steps += delta.Steps;
        _drafted += delta.Drafted;
        _accepted += delta.Accepted;
        return delta;
    }

    private StepDelta Exact(EngineChunk chunk, int n, int verify)
    {
        _exact = true;
        var prefill = _sawTokens ? 0 : 1;
        _sawTokens = true;
        var dVerify = Math.Max(0, verify - _lastVerify);
        _lastVerify = Math.Max(_lastVerify, verify);
        int dAccepted;
        if (chunk.SpecAcceptedDrafts is { } accepted)
        {
            dAccepted = Math.Max(0, accepted - _lastAccepted);
            _lastAccepted = Math.Max(_lastAccepted, accepted);
        }
        else
        {
            dAccepted = Math.Max(0, n - dVerify - prefill);
        }

        int dDrafted;
        if (chunk.SpecDraftTokens is { } drafted)
        {
            dDrafted = Math.Max(0, drafted - _lastDrafted);
            _lastDrafted = Math.Max(_lastDrafted, drafted);
        }
        else
        {
            dDrafted = dVerify * k;
        }

        return new StepDelta(dVerify + prefill, dDrafted, dAccepted);
    }

    private StepDelta Estimate(int n)
    {
        var steps = 0;
        var rest = n;
        if (!_sawTokens)
        {
            _sawTokens = true;
            steps = 1;
            rest = n - 1;
        }

        if (rest == 0)
        {
            return new StepDelta(steps, 0, 0);
        }

        var verifies = rest <= k + 1 ? 1 : (rest + k) / (k + 1);
        if (verifies > 1 || steps == 1)
        {
            MergeDetected = true;
        }

        return new StepDelta(steps + verifies, verifies * k, rest - verifies);
    }

    // A tokenless event with the engine's totals for the request (vLLM's final usage chunk): correct the estimate.
    private StepDelta Reconcile(EngineChunk chunk)
    {
        if (_exact || chunk.SpecVerifySteps is not { } verify || !_sawTokens)
        {
            return default;
        }

        Reconciled = true;
        var steps = 1 + verify;
        var accepted = chunk.SpecAcceptedDrafts ?? _accepted;
        var drafted = chunk.SpecDraftTokens ?? verify * k;
        return new StepDelta(steps - _steps, drafted - _drafted, accepted - _accepted);
    }
}
