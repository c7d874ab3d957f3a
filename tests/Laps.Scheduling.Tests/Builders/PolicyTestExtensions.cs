using Laps.Scheduling.Policies;
using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Tests.Builders;

/// <summary>Drives a policy by hand: steps recorded on a request, decisions read back as ids.</summary>
internal static class PolicyTestExtensions
{
    /// <summary>A context with a step cost that is a power of two, so attained service adds up exactly.</summary>
    public static PolicyContext Context(double stepSeconds = 0.25, int k = 4, double prior = 0.5) => new(k, stepSeconds, prior);

    public static T Admitting<T>(this T policy, params RequestState[] requests)
        where T : SchedulingPolicy
    {
        foreach (var r in requests)
        {
            policy.Admit(r);
        }

        return policy;
    }

    /// <summary>Records <paramref name="steps"/> steps of <paramref name="seconds"/> each on a queued request and re-keys it.</summary>
    public static void Step(
        this SchedulingPolicy policy, RequestState request, int steps = 1, double? seconds = null, int emitted = 1, int drafted = 4, int accepted = 2)
    {
        for (var i = 0; i < steps; i++)
        {
            request.RecordStep(emitted, drafted, accepted, seconds ?? policy.Context.StepSeconds, now: 0);
            policy.Stepped(request);
        }
    }

    public static long[] SelectIds(this SchedulingPolicy policy, int batch, Func<RequestState, bool>? skip = null)
    {
        var buffer = new RequestState[batch];
        var n = policy.Select(buffer, skip);
        return [.. buffer.AsSpan(0, n).ToArray().Select(r => r.Id)];
    }

    public static long[] Ids(this IEnumerable<RequestState> requests) => [.. requests.Select(r => r.Id)];
}
