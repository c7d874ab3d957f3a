using Laps.Scheduling.Collections;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>First come, first served with continuous batching (vLLM's default): never preempts.</summary>
public sealed class FcfsPolicy(PolicyContext context) : SchedulingPolicy(context, null)
{
    public const string PolicyName = "fcfs";
    public override string Name => PolicyName;

    protected override Priority KeyFor(RequestState request) => new(0, request.ArrivalTime, 0, request.Id);
}
