using Laps.Scheduling.Collections;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>Least attained service: the request that has had the least GPU time runs first; FCFS on ties.</summary>
public sealed class LasPolicy(PolicyContext context) : SchedulingPolicy(context, null)
{
    public const string PolicyName = "las";
    public override string Name => PolicyName;

    protected override Priority KeyFor(RequestState request)
        => new(0, request.AttainedService, request.ArrivalTime, request.Id);
}
