using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Prediction;

/// <summary>
/// Answers: how many output tokens will this request produce in total?
/// Called when a request is admitted; implementations are deterministic given their inputs (a seeded
/// <see cref="Random"/> comes in through the constructor when they need noise). Not thread-safe.
/// </summary>
public interface ILengthPredictor
{
    string Name { get; }

    double Predict(RequestState request);

    /// <summary>A request finished with its true length known: online predictors may learn from it.</summary>
    void Observe(RequestState completed, int trueLength)
    {
    }
}
