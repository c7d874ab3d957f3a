using Laps.Scheduling.Collections;
using Laps.Scheduling.Estimation;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Policies;

/// <summary>
/// The bound no real scheduler reaches: SRPT on the true remaining execution time, from simulation ground truth
/// (true length and the request's true acceptance).
/// </summary>
public sealed class OracleSrptPolicy(PolicyContext context) : SchedulingPolicy(context, null)
{
    public const string PolicyName = "oracle";
    public override string Name => PolicyName;

    public override double? EstimatedRemainingSeconds(RequestState request)
    {
        var truth = request.Oracle ?? throw new InvalidOperationException($"request {request.Id} carries no ground truth: the oracle policy only works in simulation");
        return ExecutionTimeEstimator.Total(truth.TrueLength - request.Generated, Context.K, truth.TrueAcceptance, Context.StepSeconds);
    }

    protected override Priority KeyFor(RequestState request)
        => new(0, EstimatedRemainingSeconds(request)!.Value, request.ArrivalTime, request.Id);
}
