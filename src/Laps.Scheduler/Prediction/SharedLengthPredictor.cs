using Laps.Scheduler.Observability;
using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduler.Prediction;

/// <summary>
/// The length predictor every worker loop shares (an online learner learns from every worker's completions):
/// serialises calls into it (predictors are not thread-safe; each loop runs on its own task) and exports its live
/// rank quality, the Kendall τ of prediction against truth over the last completions.
/// </summary>
internal sealed class SharedLengthPredictor(ILengthPredictor inner, SchedulerMetrics metrics) : ILengthPredictor
{
    private readonly Lock _gate = new();
    private readonly RollingKendallTau _tau = new();

    public string Name => inner.Name;

    public double Predict(RequestState request)
    {
        lock (_gate)
        {
            return inner.Predict(request);
        }
    }

    public void Observe(RequestState completed, int trueLength)
    {
        lock (_gate)
        {
            inner.Observe(completed, trueLength);
            _tau.Add(completed.PredictedLength, trueLength);
            if (_tau.Count >= 2 && _tau.Compute() is var tau && !double.IsNaN(tau))
            {
                metrics.PredictionKendallTau.Set(tau);
            }
        }
    }
}
