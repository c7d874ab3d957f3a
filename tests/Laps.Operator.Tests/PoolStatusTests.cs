using k8s.Models;
using Laps.Operator.Controller;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Operator.Tests;

public sealed class PoolStatusTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, 1, "False", Conditions.WorkersUnavailable)]
    [InlineData(2, 0, "False", Conditions.SchedulerUnavailable)]
    [InlineData(1, 1, "True", Conditions.WorkersAvailable)]
    public void Ready_needs_a_ready_worker_and_a_ready_scheduler(int readyWorkers, int readySchedulers, string status, string reason)
    {
        var pool = Pool(workers: 2, schedulers: 1);

        var result = PoolStatus.Compute(pool, null, Deployment(2, readyWorkers), Deployment(1, readySchedulers), [], null, T0);

        var ready = PoolStatus.Find(result, Conditions.Ready)!;
        Assert.Equal((status, reason), (ready.Status, ready.Reason));
        Assert.Equal(readyWorkers, result.ReadyWorkers);
    }

    [Fact]
    public void Containers_waiting_for_a_reason_that_does_not_pass_are_failing_workers_and_others_are_not()
    {
        static V1Pod Pod(string name, string container, string reason, bool deleting = false, bool init = false)
        {
            var status = new V1ContainerStatus
            {
                Name = container, Image = "i", ImageID = "", Ready = false, RestartCount = 0,
                State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = "line one\nline two" } },
            };
            return new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = name, DeletionTimestamp = deleting ? T0.UtcDateTime : null },
                Status = new V1PodStatus { ContainerStatuses = init ? null : [status], InitContainerStatuses = init ? [status] : null },
            };
        }

        var failing = PoolStatus.FailingWorkers(
        [
            Pod("w-2", "engine", "CrashLoopBackOff"),
            Pod("w-1", "worker", "CreateContainerConfigError"),
            Pod("w-3", "engine", "ContainerCreating"),
            Pod("w-4", "engine", "ErrImagePull", deleting: true),
            Pod("w-5", "setup", "ImagePullBackOff", init: true),
        ]);

        Assert.Equal(
            [
                "pod w-1 container worker: CreateContainerConfigError: line one line two",
                "pod w-2 container engine: CrashLoopBackOff: line one line two",
                "pod w-5 container setup: ImagePullBackOff: line one line two",
            ],
            failing);
    }

    [Fact]
    public void Failing_workers_degrade_the_pool_unless_an_apply_error_says_more()
    {
        var pool = Pool(workers: 1, schedulers: 1);
        string[] failing = ["pod w-1 container engine: ImagePullBackOff"];

        var result = PoolStatus.Compute(pool, null, Deployment(1, 0), Deployment(1, 1), [], null, T0, failingWorkers: failing);
        var withApplyError = PoolStatus.Compute(pool, null, Deployment(1, 0), Deployment(1, 1), [], "500 boom", T0, failingWorkers: failing);

        var degraded = PoolStatus.Find(result, Conditions.Degraded)!;
        Assert.Equal(("True", Conditions.WorkersFailing, failing[0]), (degraded.Status, degraded.Reason, degraded.Message));
        Assert.Equal(Conditions.ApplyFailed, PoolStatus.Find(withApplyError, Conditions.Degraded)!.Reason);
    }

    [Fact]
    public void Active_passive_schedulers_count_as_rolled_out_with_only_the_leader_ready()
    {
        var result = PoolStatus.Compute(Pool(workers: 2, schedulers: 3), null, Deployment(2, 2), Deployment(3, 1), [], null, T0);

        Assert.Equal(("False", Conditions.RolloutComplete), (PoolStatus.Find(result, Conditions.Progressing)!.Status, PoolStatus.Find(result, Conditions.Progressing)!.Reason));
    }

    [Fact]
    public void Workers_not_all_ready_are_still_progressing()
    {
        var result = PoolStatus.Compute(Pool(workers: 3, schedulers: 1), null, Deployment(3, 2), Deployment(1, 1), [], null, T0);

        Assert.Equal(("True", Conditions.Reconciling), (PoolStatus.Find(result, Conditions.Progressing)!.Status, PoolStatus.Find(result, Conditions.Progressing)!.Reason));
    }

    [Fact]
    public void An_unchanged_world_computes_an_equal_status_and_keeps_transition_times()
    {
        var pool = Pool(workers: 1, schedulers: 1);
        var first = PoolStatus.Compute(pool, null, Deployment(1, 1), Deployment(1, 1), [], null, T0);

        var again = PoolStatus.Compute(pool, first, Deployment(1, 1), Deployment(1, 1), [], null, T0.AddMinutes(5));

        Assert.True(PoolStatus.Same(first, again));
    }

    [Fact]
    public void A_flip_moves_only_that_conditions_transition_time()
    {
        var pool = Pool(workers: 1, schedulers: 1);
        var first = PoolStatus.Compute(pool, null, Deployment(1, 1), Deployment(1, 1), [], null, T0);

        var later = PoolStatus.Compute(pool, first, Deployment(1, 1), Deployment(1, 1), [], "503 ServiceUnavailable: try later", T0.AddMinutes(5));

        Assert.Equal(T0.AddMinutes(5).UtcDateTime, PoolStatus.Find(later, Conditions.Degraded)!.LastTransitionTime);
        Assert.Equal(T0.UtcDateTime, PoolStatus.Find(later, Conditions.Ready)!.LastTransitionTime);
        Assert.Equal(Conditions.ApplyFailed, PoolStatus.Find(later, Conditions.Degraded)!.Reason);
    }

    [Fact]
    public void An_invalid_spec_is_Degraded_InvalidSpec_with_every_message()
    {
        var result = PoolStatus.Compute(Pool(1, 1), null, null, null, ["a is wrong", "b is wrong"], null, T0);

        var degraded = PoolStatus.Find(result, Conditions.Degraded)!;
        Assert.Equal(("True", Conditions.InvalidSpec, "a is wrong; b is wrong"), (degraded.Status, degraded.Reason, degraded.Message));
        Assert.Equal(Conditions.InvalidSpec, PoolStatus.Find(result, Conditions.Progressing)!.Reason);
    }

    [Fact]
    public void The_status_carries_the_selector_and_the_endpoint()
    {
        var result = PoolStatus.Compute(Pool(1, 1), null, null, null, [], null, T0);

        Assert.Equal("app.kubernetes.io/component=worker,app.kubernetes.io/instance=chat,app.kubernetes.io/name=laps", result.Selector);
        Assert.Equal("http://chat-scheduler.serving.svc:80", result.Endpoint);
        Assert.Equal(7, result.ObservedGeneration);
    }

    [Fact]
    public void Objects_that_are_not_the_pools_make_it_Degraded_ObjectNotOwned_naming_each()
    {
        string[] notOwned = ["Role chat-scheduler exists and is not this pool's (no controller owner reference)", "Secret chat-worker-token exists"];

        var result = PoolStatus.Compute(Pool(1, 1), null, Deployment(1, 1), Deployment(1, 1), [], null, T0, notOwned);

        var degraded = PoolStatus.Find(result, Conditions.Degraded)!;
        Assert.Equal(("True", Conditions.ObjectNotOwned), (degraded.Status, degraded.Reason));
        Assert.Equal(string.Join("; ", notOwned), degraded.Message);
        Assert.Equal("True", PoolStatus.Find(result, Conditions.Ready)!.Status);
    }

    [Theory]
    [InlineData("ClusterIP", null, "False", Conditions.ClusterInternal)]
    [InlineData("NodePort", null, "True", Conditions.NoApiKeys)]
    [InlineData("LoadBalancer", null, "True", Conditions.NoApiKeys)]
    [InlineData("LoadBalancer", "keys", "False", Conditions.ApiKeysRequired)]
    [InlineData("ClusterIP", "keys", "False", Conditions.ApiKeysRequired)]
    public void A_Service_outside_the_cluster_without_API_keys_is_an_OpenEndpoint_warning_not_a_failure(
        string type, string? secret, string status, string reason)
    {
        var pool = ResolvedPool.From(
            new InferencePool
            {
                Metadata = new V1ObjectMeta { Name = "chat", NamespaceProperty = "serving" },
                Spec = new InferencePoolSpec
                {
                    Scheduler = new SchedulerSpec { Service = new ServiceSpec { Type = type }, ApiKeys = secret is null ? null : new ApiKeysSpec { SecretName = secret } },
                },
            },
            new OperatorSettings());

        var result = PoolStatus.Compute(pool, null, Deployment(1, 1), Deployment(1, 1), [], null, T0);

        var open = PoolStatus.Find(result, Conditions.OpenEndpoint)!;
        Assert.Equal((status, reason), (open.Status, open.Reason));
        Assert.Equal(("True", "False"), (PoolStatus.Find(result, Conditions.Ready)!.Status, PoolStatus.Find(result, Conditions.Degraded)!.Status));
        if (status == "True")
        {
            Assert.Contains($"scheduler.service.type {type}", open.Message, StringComparison.Ordinal);
            Assert.Contains("scheduler.apiKeys.secretName", open.Message, StringComparison.Ordinal);
        }
    }

    private static ResolvedPool Pool(int workers, int schedulers) => ResolvedPool.From(
        new InferencePool
        {
            Metadata = new V1ObjectMeta { Name = "chat", NamespaceProperty = "serving", Generation = 7 },
            Spec = new InferencePoolSpec { Workers = new WorkersSpec { Replicas = workers }, Scheduler = new SchedulerSpec { Replicas = schedulers } },
        },
        new OperatorSettings());

    private static V1Deployment Deployment(int replicas, int ready) => new()
    {
        Metadata = new V1ObjectMeta { Generation = 1 },
        Spec = new V1DeploymentSpec { Replicas = replicas },
        Status = new V1DeploymentStatus { ObservedGeneration = 1, Replicas = replicas, UpdatedReplicas = replicas, ReadyReplicas = ready },
    };
}
