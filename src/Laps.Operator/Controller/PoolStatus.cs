using System.Globalization;
using k8s.Models;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Operator.Controller;

/// <summary>Condition types and reasons (docs/inferencepool.md lists them).</summary>
public static class Conditions
{
    public const string Ready = "Ready";
    public const string Progressing = "Progressing";
    public const string Degraded = "Degraded";

    /// <summary>True while the API is reachable from outside the cluster without an API key.</summary>
    public const string OpenEndpoint = "OpenEndpoint";

    public const string WorkersAvailable = "WorkersAvailable";
    public const string WorkersUnavailable = "WorkersUnavailable";
    public const string SchedulerUnavailable = "SchedulerUnavailable";
    public const string Reconciling = "Reconciling";
    public const string RolloutComplete = "RolloutComplete";
    public const string AsExpected = "AsExpected";
    public const string InvalidSpec = "InvalidSpec";
    public const string ApplyFailed = "ApplyFailed";
    public const string ObjectNotOwned = "ObjectNotOwned";
    public const string NoApiKeys = "NoApiKeys";
    public const string ApiKeysRequired = "ApiKeysRequired";
    public const string ClusterInternal = "ClusterInternal";
    public const string WorkersFailing = "WorkersFailing";
}

/// <summary>
/// What the pool's status should say, from what was observed: a pure function. Conditions keep their
/// lastTransitionTime while their status does not change, so an unchanged world computes an equal status.
/// </summary>
public static class PoolStatus
{
    public static InferencePoolStatus Compute(
        ResolvedPool pool, InferencePoolStatus? previous, V1Deployment? workers, V1Deployment? scheduler,
        IReadOnlyList<string> specErrors, string? applyError, DateTimeOffset now, IReadOnlyCollection<string>? notOwned = null,
        IReadOnlyCollection<string>? failingWorkers = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(specErrors);
        var readyWorkers = workers?.Status?.ReadyReplicas ?? 0;
        var schedulerReady = scheduler?.Status?.ReadyReplicas ?? 0;
        var status = new InferencePoolStatus
        {
            ObservedGeneration = pool.Generation,
            Workers = workers?.Status?.Replicas ?? 0,
            ReadyWorkers = readyWorkers,
            Selector = PoolLabels.SelectorString(pool.Name, PoolLabels.Worker),
            Endpoint = pool.Endpoint,
            Conditions = [.. previous?.Conditions ?? []],
        };

        var (open, openReason, openMessage) = Exposure(pool.Scheduler);
        Set(status, Conditions.OpenEndpoint, open, openReason, openMessage, pool.Generation, now);

        if (specErrors.Count > 0)
        {
            var message = string.Join("; ", specErrors);
            Set(status, Conditions.Degraded, true, Conditions.InvalidSpec, message, pool.Generation, now);
            Set(status, Conditions.Progressing, false, Conditions.InvalidSpec, "the spec must be fixed before the pool can be reconciled", pool.Generation, now);
            Set(status, Conditions.Ready, readyWorkers > 0 && schedulerReady > 0, Conditions.InvalidSpec, message, pool.Generation, now);
            return status;
        }

        var desiredWorkers = pool.Workers.Replicas;
        var ready = readyWorkers > 0 && schedulerReady > 0;
        var (readyReason, readyMessage) = (readyWorkers > 0, schedulerReady > 0) switch
        {
            (false, _) => (Conditions.WorkersUnavailable, Invariant($"0/{desiredWorkers} workers ready")),
            (true, false) => (Conditions.SchedulerUnavailable, "no scheduler replica is ready"),
            _ => (Conditions.WorkersAvailable, Invariant($"{readyWorkers}/{desiredWorkers} workers ready; the scheduler serves {pool.Endpoint}")),
        };
        Set(status, Conditions.Ready, ready, readyReason, readyMessage, pool.Generation, now);

        // Schedulers run active-passive: only the leader is ever ready.
        var rolledOut = RolledOut(workers, desiredWorkers, desiredWorkers) && RolledOut(scheduler, pool.Scheduler.Replicas, 1);
        Set(status, Conditions.Progressing, !rolledOut, rolledOut ? Conditions.RolloutComplete : Conditions.Reconciling,
            rolledOut ? "every replica runs the current spec" : "waiting for the workers and the scheduler to roll out", pool.Generation, now);

        var (degraded, degradedReason, degradedMessage) = (applyError, notOwned, failingWorkers) switch
        {
            ({ } error, _, _) => (true, Conditions.ApplyFailed, error),
            (null, { Count: > 0 } objects, _) => (true, Conditions.ObjectNotOwned, string.Join("; ", objects)),
            (null, _, { Count: > 0 } pods) => (true, Conditions.WorkersFailing, string.Join("; ", pods)),
            _ => (false, Conditions.AsExpected, "all objects applied"),
        };
        Set(status, Conditions.Degraded, degraded, degradedReason, degradedMessage, pool.Generation, now);
        return status;
    }

    /// <summary>
    /// Why worker pods cannot start, one line each ("pod P container C: Reason: message"), sorted: a container waiting
    /// for a reason that does not go away by itself (<see cref="FailingReasons"/>); a pod being deleted does not count.
    /// </summary>
    public static IReadOnlyList<string> FailingWorkers(IEnumerable<V1Pod> pods)
    {
        ArgumentNullException.ThrowIfNull(pods);
        return pods
            .Where(p => p.Metadata.DeletionTimestamp is null)
            .SelectMany(p => (p.Status?.InitContainerStatuses ?? []).Concat(p.Status?.ContainerStatuses ?? [])
                .Where(c => c.State?.Waiting?.Reason is { } reason && FailingReasons.Contains(reason))
                .Select(c => $"pod {p.Metadata.Name} container {c.Name}: {c.State.Waiting.Reason}"
                    + (string.IsNullOrWhiteSpace(c.State.Waiting.Message) ? "" : ": " + OneLine(c.State.Waiting.Message))))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>A container's waiting reasons that mean the worker cannot start without a change (an image, a Secret, a crash).</summary>
    public static IReadOnlySet<string> FailingReasons { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError",
    };

    // A message in a condition is one line, and a long one (a pull error) is cut.
    private static string OneLine(string message)
    {
        var line = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length <= 300 ? line : line[..300] + "...";
    }

    /// <summary>
    /// Can clients outside the cluster use the API without a key? A warning, not an error: a load balancer may be
    /// internal, or firewalled, or behind a gateway that authenticates (docs/security.md).
    /// </summary>
    private static (bool Open, string Reason, string Message) Exposure(ResolvedScheduler scheduler)
    {
        return (scheduler.ApiKeysSecret, scheduler.ServiceType) switch
        {
            ({ } secret, _) => (false, Conditions.ApiKeysRequired, $"clients need an API key from Secret {secret}"),
            (null, "ClusterIP") => (false, Conditions.ClusterInternal, "the API takes no API key and is reachable only inside the cluster (ClusterIP)"),
            (null, var type) => (true, Conditions.NoApiKeys,
                $"scheduler.service.type {type} makes the API reachable from outside the cluster and scheduler.apiKeys is not set: "
                + "anyone who reaches it can use the pool; set scheduler.apiKeys.secretName (docs/security.md)"),
        };
    }

    /// <summary>Equal in every field that matters (condition order ignored).</summary>
    public static bool Same(InferencePoolStatus? a, InferencePoolStatus? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        return a.ObservedGeneration == b.ObservedGeneration && a.Workers == b.Workers && a.ReadyWorkers == b.ReadyWorkers
            && a.Selector == b.Selector && a.Endpoint == b.Endpoint
            && (a.Conditions ?? []).Count == (b.Conditions ?? []).Count
            && (a.Conditions ?? []).All(c => (b.Conditions ?? []).Any(d =>
                d.Type == c.Type && d.Status == c.Status && d.Reason == c.Reason && d.Message == c.Message
                && d.ObservedGeneration == c.ObservedGeneration && d.LastTransitionTime == c.LastTransitionTime));
    }

    public static V1Condition? Find(InferencePoolStatus? status, string type)
        => status?.Conditions?.FirstOrDefault(c => c.Type == type);

    private static bool RolledOut(V1Deployment? d, int replicas, int ready)
        => d is not null
            && (d.Status?.ObservedGeneration ?? 0) >= (d.Metadata.Generation ?? 0)
            && (d.Status?.UpdatedReplicas ?? 0) >= replicas
            && (d.Status?.ReadyReplicas ?? 0) >= ready
            && (d.Status?.Replicas ?? 0) <= replicas;

    private static void Set(InferencePoolStatus status, string type, bool value, string reason, string message, long generation, DateTimeOffset now)
    {
        var text = value ? "True" : "False";
        var old = status.Conditions!.FirstOrDefault(c => c.Type == type);
        var condition = new V1Condition
        {
            Type = type,
            Status = text,
            Reason = reason,
            Message = message,
            ObservedGeneration = generation,
            // Second precision, as the API server stores it; an unchanged status must compare equal after a round trip.
            LastTransitionTime = old?.Status == text && old.LastTransitionTime is { } t ? t : TruncateToSeconds(now.UtcDateTime),
        };
        var index = old is null ? -1 : status.Conditions!.IndexOf(old);
        if (index >= 0)
        {
            status.Conditions![index] = condition;
        }
        else
        {
            status.Conditions!.Add(condition);
        }
    }

    private static DateTime TruncateToSeconds(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
