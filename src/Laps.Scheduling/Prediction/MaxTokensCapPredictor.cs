using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Prediction;

/// <summary>Caps another predictor at the request's <c>max_tokens</c>: no request produces more than it asks for.</summary>
public sealed class MaxTokensCapPredictor(ILengthPredictor inner) : ILengthPredictor
{
    public string Name => $"{inner.Name}+cap";

    public double Predict(RequestState request)
    {
        var predicted = inner.Predict(request);
        return request.MaxTokens is int cap ? Math.Min(predicted, cap) : predicted;
    }

    public void Observe(RequestState completed, int trueLength) => inner.Observe(completed, trueLength);
}
