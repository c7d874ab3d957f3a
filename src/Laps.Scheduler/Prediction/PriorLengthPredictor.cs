using Laps.Scheduling.Prediction;
using Laps.Scheduling.Requests;

namespace Laps.Scheduler.Prediction;

/// <summary>
/// The length every request is assumed to have before anything is known about it: a configured prior. The sidecar
/// caps it at each request's <c>max_tokens</c> (<see cref="MaxTokensCapPredictor"/>); an online learner replaces it
/// through DI (<see cref="ILengthPredictor"/>). Learns nothing.
/// </summary>
public sealed class PriorLengthPredictor(int priorTokens) : ILengthPredictor
{
    public string Name => "prior";

    public double Predict(RequestState request) => priorTokens;
}

/// <summary>
/// Serialises calls into a predictor shared by every worker loop (predictors are not thread-safe; each loop runs
/// on its own task).
/// </summary>
internal sealed class SynchronizedLengthPredictor(ILengthPredictor inner) : ILengthPredictor
{
    private readonly Lock _gate = new();

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
        }
    }
}
