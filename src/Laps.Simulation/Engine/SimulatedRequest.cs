using Laps.Scheduling.Requests;
using Laps.Simulation.Workloads;

namespace Laps.Simulation.Engine;

/// <summary>
/// One request as the simulator sees it: its arrival, its prompt, and the acceptance trace it will replay. The
/// scheduler sees only the <see cref="RequestState"/> built from it; true length and acceptance reach only the
/// oracle (through <see cref="OracleInfo"/>).
/// </summary>
/// <param name="PromptTokenIds">The prompt's token ids when the workload has them: a learning length predictor reads them.</param>
public sealed record SimulatedRequest(int Index, double ArrivalTime, int PromptTokens, int[] AccLen, string Source, int[]? PromptTokenIds = null)
{
    public int Length => AccLen.Length;

    /// <summary>Who sent it (<c>laps sim --tenants</c>); one tenant by default.</summary>
    public string Tenant { get; init; } = Laps.Scheduling.FairShare.DefaultTenant;

    /// <summary>The request's whole-run acceptance when replayed with speculation length k (accepted / drafted).</summary>
    public double TrueAcceptance(int k)
    {
        long steps = 0, accepted = 0;
        for (var p = 0; p < AccLen.Length;)
        {
            var step = AcceptanceReplay.Step(AccLen, p, k);
            accepted += step.Accepted;
            steps++;
            p = step.NextPosition;
        }

        return steps == 0 ? 0 : (double)accepted / (k * steps);
    }

    public static IReadOnlyList<SimulatedRequest> From(IReadOnlyList<WorkloadEntry> entries, IReadOnlyList<double> arrivals, Laps.Scheduling.Estimation.ProposerKind proposer)
    {
        if (entries.Count != arrivals.Count)
        {
            throw new ArgumentException($"{entries.Count} entries but {arrivals.Count} arrival times");
        }

        var result = new SimulatedRequest[entries.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new SimulatedRequest(i, arrivals[i], entries[i].PromptTokens, entries[i].AccLen(proposer), entries[i].Source, entries[i].PromptTokenIds);
        }

        return result;
    }
}
