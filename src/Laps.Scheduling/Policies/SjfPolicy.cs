using Laps.Scheduling.Collections;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>
/// Shortest job first on the predicted total output length (learning-to-rank style), non-preemptive: a request
/// keeps its batch slot until it finishes. Optional LTR starvation guard.
/// </summary>
public sealed class SjfPolicy(PolicyContext context, StarvationGuard? guard = null) : SchedulingPolicy(context, guard)
{
    public const string PolicyName = "sjf";
    public override string Name => PolicyName;
    protected override bool KeyDependsOnRunning => true;

    protected override Priority KeyFor(RequestState request)
        => new(request.Running ? -1 : 0, request.PredictedLength, request.ArrivalTime, request.Id);
}
