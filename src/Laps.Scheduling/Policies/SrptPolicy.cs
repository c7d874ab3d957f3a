using Laps.Scheduling.Collections;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>
/// Shortest remaining predicted length first, preemptive: <c>max(L̂ − generated, 1)</c>. A request that outlives
/// its prediction floors at one token and so outranks everything: the weakness posterior estimates repair.
/// </summary>
public sealed class SrptPolicy(PolicyContext context, StarvationGuard? guard = null) : SchedulingPolicy(context, guard)
{
    public const string PolicyName = "srpt";
    public override string Name => PolicyName;

    protected override Priority KeyFor(RequestState request)
        => new(0, Math.Max(request.PredictedLength - request.Generated, 1), request.ArrivalTime, request.Id);
}
