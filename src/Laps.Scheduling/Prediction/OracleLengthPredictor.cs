using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Prediction;

/// <summary>Perfect prediction (Kendall τ = 1), from simulation ground truth.</summary>
public sealed class OracleLengthPredictor : ILengthPredictor
{
    public string Name => "oracle";

    public double Predict(RequestState request)
        => request.Oracle?.TrueLength
           ?? throw new InvalidOperationException($"request {request.Id} carries no ground truth: the oracle predictor only works in simulation");
}
