using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Laps.Operator.Controller;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Operator.Tests;

/// <summary>The operator against the fake API server: what a user sees after kubectl apply, edit and delete.</summary>
public sealed class ReconcileScenarioTests
{
    private static readonly string[] Owned =
        ["ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap", "Service/workers", "Deployment/workers", "PodDisruptionBudget", "NetworkPolicy", "Service/scheduler", "Deployment/scheduler"];

    [Fact]
    public async Task A_new_pool_gets_every_object_with_an_owner_reference_to_it()
    {
        await using var h = await OperatorHarness.StartAsync();
        var pool = h.CreatePool("chat");

        await h.UntilAsync(() => h.Server.TryGet<V1NetworkPolicy>(OperatorHarness.Ns, "chat-workers") is not null, "the NetworkPolicy, the last object");

        IEnumerable<V1ObjectMeta> metas =
        [
            h.Server.Get<V1ServiceAccount>(OperatorHarness.Ns, "chat-scheduler").Metadata,
            h.Server.Get<V1Role>(OperatorHarness.Ns, "chat-scheduler").Metadata,
            h.Server.Get<V1RoleBinding>(OperatorHarness.Ns, "chat-scheduler").Metadata,
            h.Server.Get<V1Secret>(OperatorHarness.Ns, "chat-worker-token").Metadata,
            h.Server.Get<V1ConfigMap>(OperatorHarness.Ns, "chat-scheduler").Metadata,
            h.Server.Get<V1Service>(OperatorHarness.Ns, "chat-workers").Metadata,
            h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers").Metadata,
            h.Server.Get<V1PodDisruptionBudget>(OperatorHarness.Ns, "chat-workers").Metadata,
            h.Server.Get<V1NetworkPolicy>(OperatorHarness.Ns, "chat-workers").Metadata,
            h.Server.Get<V1Service>(OperatorHarness.Ns, "chat-scheduler").Metadata,
            h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-scheduler").Metadata,
        ];
        Assert.Equal(Owned.Length, metas.Count());
        Assert.All(metas, m =>
        {
            var owner = Assert.Single(m.OwnerReferences);
            Assert.Equal((pool.Metadata.Uid, "InferencePool", true), (owner.Uid, owner.Kind, owner.Controller == true));
            Assert.Equal(PoolLabels.ManagedByValue, m.Labels[PoolLabels.ManagedByKey]);
        });
    }

    [Fact]
    public async Task A_new_pool_is_Ready_within_a_second_of_its_workers_and_scheduler_becoming_ready()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat", s => s.Workers = new WorkersSpec { Replicas = 2 });
        await h.UntilAsync(() => h.Condition("chat", Conditions.Ready)?.Reason == Conditions.WorkersUnavailable, "Ready=False WorkersUnavailable");

        h.AllReplicasReady("chat-workers");
        h.AllReplicasReady("chat-scheduler");
        await h.UntilAsync(() => h.Condition("chat", Conditions.Ready)?.Status == "True", "Ready=True", bound: TimeSpan.FromSeconds(1));

        var status = h.Pool("chat").Status!;
        Assert.Equal((2, 2, Conditions.WorkersAvailable), (status.ReadyWorkers, status.Workers, h.Condition("chat", Conditions.Ready)!.Reason));
        Assert.Equal("http://chat-scheduler.serving.svc:80", status.Endpoint);
        Assert.Equal("False", h.Condition("chat", Conditions.Progressing)!.Status);
        Assert.Equal(h.Pool("chat").Metadata.Generation, status.ObservedGeneration);
    }

    [Fact]
    public async Task Scaling_the_spec_scales_the_worker_Deployment()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat", s => s.Workers = new WorkersSpec { Replicas = 2 });
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-workers")?.Spec.Replicas == 2, "2 workers");

        h.ChangeSpec("chat", s => s.Workers!.Replicas = 5);

        await h.UntilAsync(() => h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers").Spec.Replicas == 5, "5 workers");
    }

    [Fact]
    public async Task Scaling_through_the_scale_subresource_scales_the_workers_and_reports_the_selector()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-workers") is not null, "the workers");

        // What `kubectl scale ipool chat --replicas 4` sends.
        await h.Client.CustomObjects.PatchNamespacedCustomObjectScaleAsync(
            new V1Patch("{\"spec\":{\"replicas\":4}}", V1Patch.PatchType.MergePatch), InferencePool.Group, InferencePool.Version, OperatorHarness.Ns, InferencePool.Plural, "chat");

        await h.UntilAsync(() => h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers").Spec.Replicas == 4, "4 workers");
        h.AllReplicasReady("chat-workers");
        await h.UntilAsync(() => h.Pool("chat").Status?.Workers == 4, "status.workers 4");
        var scale = (JsonElement)await h.Client.CustomObjects.GetNamespacedCustomObjectScaleAsync(InferencePool.Group, InferencePool.Version, OperatorHarness.Ns, InferencePool.Plural, "chat");
        Assert.Equal(4, scale.GetProperty("status").GetProperty("replicas").GetInt32());
        Assert.Equal(PoolLabels.SelectorString("chat", PoolLabels.Worker), scale.GetProperty("status").GetProperty("selector").GetString());
    }

    [Fact]
    public async Task Changing_the_policy_rewrites_the_config_and_rolls_the_scheduler()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-scheduler") is not null, "the scheduler");
        var hashBefore = h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-scheduler").Spec.Template.Metadata.Annotations[PoolLabels.ConfigHash];

        h.ChangeSpec("chat", s => s.Scheduler = new SchedulerSpec { Policy = "srpt", BatchSize = 4 });

        string Config() => h.Server.Get<V1ConfigMap>(OperatorHarness.Ns, "chat-scheduler").Data[DesiredState.ConfigKey];
        await h.UntilAsync(
            () => Config().Contains("\"Policy\": \"srpt\"", StringComparison.Ordinal)
                && h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-scheduler").Spec.Template.Metadata.Annotations[PoolLabels.ConfigHash] != hashBefore,
            "policy srpt in the config, and a new config hash on the scheduler pods");
        Assert.Contains("\"Batch\": 4", Config(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_the_pool_leaves_its_objects_to_the_garbage_collector()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-scheduler") is not null, "the scheduler");

        h.Server.Delete<InferencePool>(OperatorHarness.Ns, "chat");

        await h.UntilAsync(
            () => h.Server.List<V1Deployment>(OperatorHarness.Ns).Count == 0 && h.Server.List<V1Service>(OperatorHarness.Ns).Count == 0
                && h.Server.List<V1ConfigMap>(OperatorHarness.Ns).Count == 0,
            "no owned objects left");
    }

    [Fact]
    public async Task A_conflicting_write_is_retried_and_the_change_lands()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat", s => s.Workers = new WorkersSpec { Replicas = 1 });
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-workers") is not null, "the workers");

        h.Server.InjectFault("update", "deployments", 409, name: "chat-workers");
        h.ChangeSpec("chat", s => s.Workers!.Replicas = 3);

        await h.UntilAsync(() => h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers").Spec.Replicas == 3, "3 workers", advance: TimeSpan.FromMilliseconds(100));
        Assert.True(h.Counter("requeue") >= 1);
    }

    [Fact]
    public async Task Server_errors_back_off_and_then_succeed_without_a_crash()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.Server.InjectFault("create", "deployments", 503, times: 3);
        h.Server.InjectFault("create", "services", 500, times: 1);

        h.CreatePool("chat");
        await h.UntilAsync(() => h.Condition("chat", Conditions.Degraded)?.Reason == Conditions.ApplyFailed, "Degraded=True ApplyFailed");
        // The status is written before the reconcile returns and is counted: wait for the count too.
        await h.UntilAsync(
            () => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-scheduler") is not null && h.Condition("chat", Conditions.Degraded)?.Status == "False"
                && h.Metrics.ReconcileRecovered.Value > 0,
            "applied, Degraded=False, a recovery counted", advance: TimeSpan.FromMilliseconds(200));

        Assert.True(h.Metrics.ReconcileErrors.Value >= 3);
        Assert.Equal(1, h.Metrics.ReconcileRecovered.Value);
        Assert.Equal(Conditions.AsExpected, h.Condition("chat", Conditions.Degraded)!.Reason);
    }

    [Fact]
    public async Task An_invalid_spec_is_reported_as_Degraded_InvalidSpec_and_nothing_is_created()
    {
        await using var h = await OperatorHarness.StartAsync();

        // The fake has no admission: this reaches the operator as it would from an API server without CEL.
        h.CreatePool("chat", s =>
        {
            s.Workers = new WorkersSpec { Engine = Engines.Custom, MaxBatch = 4 };
            s.Scheduler = new SchedulerSpec { BatchSize = 8 };
        });

        await h.UntilAsync(() => h.Condition("chat", Conditions.Degraded)?.Reason == Conditions.InvalidSpec, "Degraded=True InvalidSpec");
        var degraded = h.Condition("chat", Conditions.Degraded)!;
        Assert.Equal("True", degraded.Status);
        Assert.Contains("workers.image is required", degraded.Message, StringComparison.Ordinal);
        Assert.Contains("must not exceed workers.maxBatch", degraded.Message, StringComparison.Ordinal);
        Assert.Empty(h.Server.List<V1Deployment>(OperatorHarness.Ns));
        await h.UntilAsync(() => h.Server.List<Corev1Event>(OperatorHarness.Ns).Any(e => e.Reason == Conditions.InvalidSpec && e.Type == "Warning"), "a Warning event");
    }

    [Fact]
    public async Task Turning_the_ServiceMonitor_off_deletes_it()
    {
        await using var h = await OperatorHarness.StartAsync(serviceMonitorCrd: true);
        h.CreatePool("chat", s => s.Monitoring = new MonitoringSpec { ServiceMonitor = new ServiceMonitorSpec { Enabled = true } });
        await h.UntilAsync(() => h.Server.TryGet<ServiceMonitor>(OperatorHarness.Ns, "chat") is not null, "the ServiceMonitor");

        h.ChangeSpec("chat", s => s.Monitoring!.ServiceMonitor!.Enabled = false);

        await h.UntilAsync(() => h.Server.TryGet<ServiceMonitor>(OperatorHarness.Ns, "chat") is null, "no ServiceMonitor");
        Assert.NotNull(h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-scheduler"));
    }

    [Fact]
    public async Task A_status_only_change_writes_nothing()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Condition("chat", Conditions.Ready) is not null, "a status");
        var reconciles = h.Counter("success");
        h.Server.ClearRequests();

        // An unrelated status field written by someone else: the pool changes, its desired state does not.
        h.Server.Modify("inferencepools", OperatorHarness.Ns, "chat", json => json["status"]!["endpoint"] = "elsewhere");
        await h.UntilAsync(() => h.Counter("success") > reconciles && h.Pool("chat").Status!.Endpoint!.StartsWith("http://", StringComparison.Ordinal), "the status repaired");

        // Only status writes (a reconcile that read a stale cache may try one more and get a 409): no owned object is touched.
        var writes = h.Server.Requests.Where(r => r.IsWrite && r.Resource != "events").ToList();
        Assert.NotEmpty(writes);
        Assert.All(writes, w => Assert.Equal(("inferencepools", "status"), (w.Resource, w.Subresource)));
    }

    [Fact]
    public async Task A_ConfigMap_edited_by_hand_is_put_back()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1ConfigMap>(OperatorHarness.Ns, "chat-scheduler") is not null, "the ConfigMap");
        var original = h.Server.Get<V1ConfigMap>(OperatorHarness.Ns, "chat-scheduler").Data[DesiredState.ConfigKey];

        // What kubectl edit sends back: the object as read, annotations included, with one value changed.
        h.Server.Modify<V1ConfigMap>(OperatorHarness.Ns, "chat-scheduler", c => c.Data[DesiredState.ConfigKey] = "{}");

        await h.UntilAsync(() => h.Server.Get<V1ConfigMap>(OperatorHarness.Ns, "chat-scheduler").Data[DesiredState.ConfigKey] == original, "the config restored");
    }

    [Fact]
    public async Task A_Deployment_edited_by_hand_is_put_back()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat", s => s.Workers = new WorkersSpec { Replicas = 2 });
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-workers") is not null, "the workers");
        var original = h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers");
        var container = original.Spec.Template.Spec.Containers[0];

        h.Server.Modify<V1Deployment>(OperatorHarness.Ns, "chat-workers", d =>
        {
            d.Spec.Replicas = 7;
            d.Spec.Template.Spec.Containers[0].Image = "elsewhere/worker:latest";
            d.Spec.Template.Spec.Containers[0].Args.Add("--debug");
            d.Metadata.Labels.Remove(PoolLabels.Pool);
        });

        await h.UntilAsync(() => h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers").Spec.Replicas == 2, "2 replicas again");
        var restored = h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers");
        Assert.Equal(container.Image, restored.Spec.Template.Spec.Containers[0].Image);
        Assert.Equal(container.Args, restored.Spec.Template.Spec.Containers[0].Args);
        Assert.Equal("chat", restored.Metadata.Labels[PoolLabels.Pool]);
        Assert.Equal(original.Metadata.Annotations[Reconciler.DesiredHash], restored.Metadata.Annotations[Reconciler.DesiredHash]);
    }

    [Fact]
    public async Task A_Service_edited_by_hand_is_put_back()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1Service>(OperatorHarness.Ns, "chat-scheduler") is not null, "the scheduler Service");

        h.Server.Modify<V1Service>(OperatorHarness.Ns, "chat-scheduler", s => s.Spec.Ports[0].Port = 8000);

        await h.UntilAsync(() => h.Server.Get<V1Service>(OperatorHarness.Ns, "chat-scheduler").Spec.Ports[0].Port == 80, "port 80 again");
    }

    [Fact]
    public async Task Fields_the_API_server_defaults_or_allocates_are_not_taken_for_a_change()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Condition("chat", Conditions.Ready) is not null, "a status");
        await h.StopAsync();

        // What a real API server adds to what the operator wrote, and a Deployment controller's annotation.
        foreach (var name in new[] { "chat-workers", "chat-scheduler" })
        {
            h.Server.Modify("deployments", OperatorHarness.Ns, name, d =>
            {
                d["metadata"]!["annotations"]!["deployment.kubernetes.io/revision"] = "1";
                var spec = d["spec"]!.AsObject();
                spec["revisionHistoryLimit"] = 10;
                spec["progressDeadlineSeconds"] = 600;
                spec["strategy"] ??= JsonNode.Parse("""{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}""");
                var pod = spec["template"]!["spec"]!.AsObject();
                pod["restartPolicy"] = "Always";
                pod["terminationGracePeriodSeconds"] = 30;
                pod["dnsPolicy"] = "ClusterFirst";
                pod["schedulerName"] = "default-scheduler";
                var container = pod["containers"]![0]!.AsObject();
                container["terminationMessagePath"] = "/dev/termination-log";
                container["terminationMessagePolicy"] = "File";
                container["imagePullPolicy"] ??= "IfNotPresent";
                container["readinessProbe"]!["timeoutSeconds"] = 1;
                container["readinessProbe"]!["successThreshold"] = 1;
                foreach (var env in container["env"]!.AsArray().Where(e => e!["valueFrom"] is not null))
                {
                    env!["valueFrom"]!["fieldRef"]!["apiVersion"] = "v1";
                }
            });
        }

        h.Server.Modify("services", OperatorHarness.Ns, "chat-scheduler", s =>
        {
            var spec = s["spec"]!.AsObject();
            spec["clusterIP"] = "10.96.0.10";
            spec["clusterIPs"] = new JsonArray("10.96.0.10");
            spec["sessionAffinity"] = "None";
            spec["ipFamilies"] = new JsonArray("IPv4");
            spec["ipFamilyPolicy"] = "SingleStack";
            spec["internalTrafficPolicy"] = "Cluster";
        });
        h.Server.Modify("rolebindings", OperatorHarness.Ns, "chat-scheduler", b => b["subjects"]![0]!["apiGroup"] = "");

        var reconciles = h.Counter("success");
        h.Server.ClearRequests();
        h.Run(ClusterCapabilities.None);

        // The first reconcile after the restart runs on caches that hold the defaulted objects.
        await h.UntilAsync(() => h.Counter("success") > reconciles, "a reconcile");
        Assert.DoesNotContain(h.Server.Requests, r => r.IsWrite && r.Resource is not ("events" or "inferencepools"));
    }

    [Fact]
    public async Task A_Role_the_pool_did_not_create_stays_unchanged_is_reported_and_is_created_once_deleted()
    {
        await using var h = await OperatorHarness.StartAsync();

        // Made by someone else, with the operator's labels even: a pool named after it must not rewrite it.
        h.Server.Seed(new V1Role
        {
            ApiVersion = "rbac.authorization.k8s.io/v1",
            Kind = V1Role.KubeKind,
            Metadata = new V1ObjectMeta { Name = "chat-scheduler", NamespaceProperty = OperatorHarness.Ns, Labels = PoolLabels.For("chat", PoolLabels.Scheduler) },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["secrets"], Verbs = ["get"] }],
        });
        var before = h.Server.Get("roles", OperatorHarness.Ns, "chat-scheduler").ToJsonString();
        h.CreatePool("chat");

        await h.UntilAsync(() => h.Condition("chat", Conditions.Degraded)?.Reason == Conditions.ObjectNotOwned, "Degraded=True ObjectNotOwned");
        await h.UntilAsync(
            () => h.Server.List<Corev1Event>(OperatorHarness.Ns).Any(e => e.Type == "Warning" && e.Reason == Conditions.ObjectNotOwned && e.Message.Contains("Role chat-scheduler", StringComparison.Ordinal)),
            "a Warning event naming the Role");
        Assert.Equal(
            "Role chat-scheduler exists and is not this pool's (no controller owner reference): left alone; delete it or rename the pool",
            h.Condition("chat", Conditions.Degraded)!.Message);
        Assert.Equal(before, h.Server.Get("roles", OperatorHarness.Ns, "chat-scheduler").ToJsonString());
        Assert.DoesNotContain(h.Server.Requests, r => r.IsWrite && r.Resource == "roles");

        // The rest of the pool reconciles.
        Assert.NotNull(h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-scheduler"));
        Assert.NotNull(h.Server.TryGet<V1RoleBinding>(OperatorHarness.Ns, "chat-scheduler"));

        h.Server.Delete<V1Role>(OperatorHarness.Ns, "chat-scheduler");

        var uid = h.Pool("chat").Metadata.Uid;
        await h.UntilAsync(
            () => h.Server.TryGet<V1Role>(OperatorHarness.Ns, "chat-scheduler")?.Metadata.OwnerReferences?.Single().Uid == uid
                && h.Condition("chat", Conditions.Degraded)?.Status == "False",
            "the pool's own Role, Degraded=False", advance: TimeSpan.FromSeconds(1));
        Assert.Contains(h.Server.Get<V1Role>(OperatorHarness.Ns, "chat-scheduler").Rules, r => r.Resources.Contains("endpointslices"));
    }

    [Fact]
    public async Task An_object_another_controller_owns_is_left_alone_and_its_controller_named()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.Server.Seed(new V1ServiceAccount
        {
            ApiVersion = "v1",
            Kind = V1ServiceAccount.KubeKind,
            Metadata = new V1ObjectMeta
            {
                Name = "chat-scheduler",
                NamespaceProperty = OperatorHarness.Ns,
                OwnerReferences = [new V1OwnerReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "billing", Uid = "4f3c", Controller = true }],
            },
        });
        var before = h.Server.Get("serviceaccounts", OperatorHarness.Ns, "chat-scheduler").ToJsonString();

        h.CreatePool("chat");

        await h.UntilAsync(() => h.Condition("chat", Conditions.Degraded)?.Reason == Conditions.ObjectNotOwned, "Degraded=True ObjectNotOwned");
        Assert.StartsWith(
            "ServiceAccount chat-scheduler exists and is not this pool's (controlled by Deployment billing)",
            h.Condition("chat", Conditions.Degraded)!.Message, StringComparison.Ordinal);
        Assert.Equal(before, h.Server.Get("serviceaccounts", OperatorHarness.Ns, "chat-scheduler").ToJsonString());
        Assert.NotNull(h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "chat-workers"));
    }

    [Fact]
    public async Task The_worker_token_is_made_once_kept_through_changes_and_made_anew_only_when_deleted()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1Secret>(OperatorHarness.Ns, "chat-worker-token") is not null, "the token Secret");
        string Token() => System.Text.Encoding.ASCII.GetString(h.Server.Get<V1Secret>(OperatorHarness.Ns, "chat-worker-token").Data["token"]);
        var token = Token();
        Assert.Matches("^[0-9a-f]{64}$", token);

        // A spec change, and a hand edit of a field the operator owns, which it puts back with a PUT.
        h.ChangeSpec("chat", s => s.Workers = new WorkersSpec { Replicas = 3 });
        h.Server.Modify<V1Secret>(OperatorHarness.Ns, "chat-worker-token", s => s.Metadata.Labels.Remove(PoolLabels.Pool));
        await h.UntilAsync(
            () => h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-workers").Spec.Replicas == 3
                && h.Server.Get<V1Secret>(OperatorHarness.Ns, "chat-worker-token").Metadata.Labels.ContainsKey(PoolLabels.Pool),
            "3 workers, the label back");
        Assert.Equal(token, Token());

        // Deleting the Secret is how a token is rotated.
        h.Server.Delete<V1Secret>(OperatorHarness.Ns, "chat-worker-token");
        await h.UntilAsync(() => h.Server.TryGet<V1Secret>(OperatorHarness.Ns, "chat-worker-token") is not null, "a new token Secret");
        Assert.NotEqual(token, Token());
    }

    [Fact]
    public async Task Turning_the_NetworkPolicy_off_deletes_it()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat");
        await h.UntilAsync(() => h.Server.TryGet<V1NetworkPolicy>(OperatorHarness.Ns, "chat-workers") is not null, "the NetworkPolicy");

        h.ChangeSpec("chat", s => s.NetworkPolicy = new NetworkPolicySpec { Enabled = false });

        await h.UntilAsync(() => h.Server.TryGet<V1NetworkPolicy>(OperatorHarness.Ns, "chat-workers") is null, "no NetworkPolicy");
    }

    [Fact]
    public async Task A_LoadBalancer_without_API_keys_is_warned_about_until_it_gets_them()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("chat", s => s.Scheduler = new SchedulerSpec { Service = new ServiceSpec { Type = "LoadBalancer" } });

        await h.UntilAsync(() => h.Condition("chat", Conditions.OpenEndpoint)?.Status == "True", "OpenEndpoint=True");
        await h.UntilAsync(
            () => h.Server.List<Corev1Event>(OperatorHarness.Ns).Any(e => e.Type == "Warning" && e.Reason == Conditions.NoApiKeys),
            "a Warning event");
        Assert.NotNull(h.Server.TryGet<V1Service>(OperatorHarness.Ns, "chat-scheduler"));

        h.ChangeSpec("chat", s => s.Scheduler!.ApiKeys = new ApiKeysSpec { SecretName = "chat-keys" });

        await h.UntilAsync(() => h.Condition("chat", Conditions.OpenEndpoint)?.Reason == Conditions.ApiKeysRequired, "OpenEndpoint=False ApiKeysRequired");
        var args = h.Server.Get<V1Deployment>(OperatorHarness.Ns, "chat-scheduler").Spec.Template.Spec.Containers[0].Args;
        Assert.Contains("--api-key-file", args);
    }

    private static void VllmWorkers(InferencePoolSpec spec, int replicas = 2) => spec.Workers = new WorkersSpec
    {
        Replicas = replicas,
        Engine = Engines.Vllm,
        Models = new ModelsSpec { Llm = "meta-llama/Llama-3.1-8B-Instruct", Ssm = "yuhuili/EAGLE-LLaMA3.1-Instruct-8B" },
    };

    // Plays the ReplicaSet controller and the kubelet: a worker pod of the pool, its containers in the given states.
    private static V1Pod WorkerPod(OperatorHarness h, string pool, string name, V1ContainerState engine, bool ready)
    {
        var pod = new V1Pod
        {
            ApiVersion = "v1",
            Kind = V1Pod.KubeKind,
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = OperatorHarness.Ns, Labels = PoolLabels.For(pool, PoolLabels.Worker) },
            Spec = h.Server.Get<V1Deployment>(OperatorHarness.Ns, pool + "-workers").Spec.Template.Spec,
            Status = new V1PodStatus
            {
                Phase = ready ? "Running" : "Pending",
                ContainerStatuses =
                [
                    new V1ContainerStatus { Name = DesiredState.EngineContainer, Image = "vllm/vllm-openai:v0.18.0", ImageID = "", Ready = ready, RestartCount = 0, State = engine },
                    new V1ContainerStatus
                    {
                        Name = PoolLabels.Worker, Image = "laps:test", ImageID = "", Ready = ready, RestartCount = 0,
                        State = new V1ContainerState { Running = new V1ContainerStateRunning() },
                    },
                ],
            },
        };
        return h.Server.Seed(pod);
    }

    private static V1ContainerState Running() => new() { Running = new V1ContainerStateRunning() };

    [Fact]
    public async Task A_vLLM_pool_runs_the_engine_beside_the_adapter_and_is_Ready_when_its_pods_are()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("llama", s => VllmWorkers(s));
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "llama-workers") is not null, "the workers");
        var template = h.Server.Get<V1Deployment>(OperatorHarness.Ns, "llama-workers").Spec.Template.Spec;
        Assert.Equal([DesiredState.EngineContainer, PoolLabels.Worker], template.Containers.Select(c => c.Name));
        Assert.Equal(Engines.VllmImage, template.Containers[0].Image);
        await h.UntilAsync(() => h.Condition("llama", Conditions.Ready)?.Reason == Conditions.WorkersUnavailable, "Ready=False WorkersUnavailable");

        WorkerPod(h, "llama", "llama-workers-a", Running(), ready: true);
        WorkerPod(h, "llama", "llama-workers-b", Running(), ready: true);
        h.AllReplicasReady("llama-workers");
        h.AllReplicasReady("llama-scheduler");

        await h.UntilAsync(() => h.Condition("llama", Conditions.Ready)?.Status == "True", "Ready=True");
        Assert.Equal((2, "False", Conditions.AsExpected), (h.Pool("llama").Status!.ReadyWorkers, h.Condition("llama", Conditions.Degraded)!.Status, h.Condition("llama", Conditions.Degraded)!.Reason));
    }

    [Fact]
    public async Task An_engine_image_that_cannot_be_pulled_degrades_the_pool_naming_pod_container_and_reason_until_it_runs()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("llama", s => VllmWorkers(s, replicas: 1));
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "llama-workers") is not null, "the workers");
        await h.UntilAsync(() => h.Condition("llama", Conditions.Degraded)?.Reason == Conditions.AsExpected, "Degraded=False");

        WorkerPod(h, "llama", "llama-workers-x1",
            new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ImagePullBackOff", Message = "Back-off pulling image \"vllm/vllm-openai:v0.18.0\"" } }, ready: false);

        await h.UntilAsync(() => h.Condition("llama", Conditions.Degraded)?.Reason == Conditions.WorkersFailing, "Degraded WorkersFailing");
        var degraded = h.Condition("llama", Conditions.Degraded)!;
        Assert.Equal("True", degraded.Status);
        Assert.StartsWith("pod llama-workers-x1 container engine: ImagePullBackOff: Back-off pulling image", degraded.Message, StringComparison.Ordinal);

        // The image arrives: the pod runs, the pool is no longer degraded.
        h.Server.Modify<V1Pod>(OperatorHarness.Ns, "llama-workers-x1", p => p.Status.ContainerStatuses[0].State = Running());
        await h.UntilAsync(() => h.Condition("llama", Conditions.Degraded)?.Status == "False", "Degraded=False again");
    }

    [Fact]
    public async Task A_pod_of_another_pool_does_not_degrade_this_one()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("llama", s => VllmWorkers(s, replicas: 1));
        h.CreatePool("other", s => VllmWorkers(s, replicas: 1));
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "other-workers") is not null, "the other workers");
        await h.UntilAsync(() => h.Condition("llama", Conditions.Degraded) is not null, "this pool's first status");

        WorkerPod(h, "other", "other-workers-x1",
            new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff", Message = "back-off 5m0s restarting failed container" } }, ready: false);

        await h.UntilAsync(() => h.Condition("other", Conditions.Degraded)?.Reason == Conditions.WorkersFailing, "the other pool Degraded");
        Assert.Equal(Conditions.AsExpected, h.Condition("llama", Conditions.Degraded)?.Reason);
    }

    [Fact]
    public async Task Scaling_a_vLLM_pool_through_the_scale_subresource_scales_its_workers()
    {
        await using var h = await OperatorHarness.StartAsync();
        h.CreatePool("llama", s => VllmWorkers(s));
        await h.UntilAsync(() => h.Server.TryGet<V1Deployment>(OperatorHarness.Ns, "llama-workers")?.Spec.Replicas == 2, "2 workers");

        await h.Client.CustomObjects.PatchNamespacedCustomObjectScaleAsync(
            new V1Patch("{\"spec\":{\"replicas\":3}}", V1Patch.PatchType.MergePatch), InferencePool.Group, InferencePool.Version, OperatorHarness.Ns, InferencePool.Plural, "llama");

        await h.UntilAsync(() => h.Server.Get<V1Deployment>(OperatorHarness.Ns, "llama-workers").Spec.Replicas == 3, "3 workers");
        var workers = h.Server.Get<V1Deployment>(OperatorHarness.Ns, "llama-workers");
        Assert.Equal(2, workers.Spec.Template.Spec.Containers.Count);
        Assert.Equal(0, workers.Spec.Strategy.RollingUpdate.MaxSurge.ToInt());
    }
}
