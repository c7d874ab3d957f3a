namespace Laps.Scheduling.Estimation;

/// <summary>
/// The paper's execution-time estimate: a request of L tokens at acceptance A with speculation length k takes
/// L / (k·A + 1) steps (each step emits the accepted drafts plus one token), each costing k·T_SSM + T_LLM.
/// </summary>
public static class ExecutionTimeEstimator
{
    /// <summary>Expected tokens per step under acceptance rate A (accepted / drafted).</summary>
    public static double TokensPerStep(int k, double acceptance) => (k * Math.Clamp(acceptance, 0, 1)) + 1;

    /// <summary><c>T = L / (k·A + 1) · stepSeconds</c>.</summary>
    public static double Total(double length, int k, double acceptance, double stepSeconds)
        => Math.Max(length, 0) / TokensPerStep(k, acceptance) * stepSeconds;

    /// <summary>The remaining form: <c>max(L̂ − generated, 1) / (k·Â + 1) · stepSeconds</c>.</summary>
    public static double Remaining(double predictedLength, int generated, int k, double acceptance, double stepSeconds)
        => Math.Max(predictedLength - generated, 1) / TokensPerStep(k, acceptance) * stepSeconds;
}
