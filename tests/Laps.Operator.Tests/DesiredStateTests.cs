using k8s.Models;
using Laps.Operator.Desired;
using Laps.Operator.Model;

namespace Laps.Operator.Tests;

public sealed class DesiredStateTests
{
    private static readonly OperatorSettings Settings = new();

    [Theory]
    [InlineData(true, true, true)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    public void A_ServiceMonitor_is_desired_only_when_enabled_and_its_CRD_exists(bool enabled, bool crd, bool expected)
    {
        var pool = Pool(s => s.Monitoring = new MonitoringSpec { ServiceMonitor = new ServiceMonitorSpec { Enabled = enabled } });

        var objects = DesiredState.Build(pool, Settings, new ClusterCapabilities(crd));

        Assert.Equal(expected, objects.OfType<ServiceMonitor>().Any());
    }

    [Fact]
    public void A_LAPS_knob_changes_the_config_hash_on_the_scheduler_pods()
    {
        var before = SchedulerHash(Pool(s => s.Scheduler = new SchedulerSpec { Laps = new LapsSpec { Queues = 4 } }));
        var after = SchedulerHash(Pool(s => s.Scheduler = new SchedulerSpec { Laps = new LapsSpec { Queues = 6 } }));

        Assert.NotEqual(before, after);
    }

    [Fact]
    public void Building_twice_gives_the_same_objects()
    {
        var pool = Pool(s => s.Workers = new WorkersSpec { Replicas = 3 });

        Assert.Equal(
            k8s.KubernetesYaml.SerializeAll(DesiredState.Build(pool, Settings, ClusterCapabilities.None)),
            k8s.KubernetesYaml.SerializeAll(DesiredState.Build(pool, Settings, ClusterCapabilities.None)));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void Only_several_scheduler_replicas_elect_a_leader(int replicas, bool elect)
    {
        var args = DesiredState.Build(Pool(s => s.Scheduler = new SchedulerSpec { Replicas = replicas }), Settings, ClusterCapabilities.None)
            .OfType<V1Deployment>().Single(d => d.Metadata.Name == "p-scheduler").Spec.Template.Spec.Containers[0].Args;

        Assert.Equal(elect, args.Contains("--leader-elect"));
    }

    [Theory]
    [InlineData("p", true)]
    [InlineData("a-pool-with-a-name-that-is-exactly-fifty-three-charsx", true)]
    [InlineData("a-pool-with-a-name-that-is-exactly-fifty-four-charsxxx", false)]
    [InlineData("9lives", false)]
    public void Pool_names_must_leave_room_for_their_Service_names(string name, bool valid)
    {
        var pool = Pool(_ => { });
        pool.Metadata.Name = name;

        Assert.Equal(valid, SpecValidator.Validate(ResolvedPool.From(pool, Settings)).Count == 0);
    }

    [Fact]
    public void The_scheduler_Role_may_get_and_update_only_the_Lease_its_scheduler_elects_on()
    {
        var objects = DesiredState.Build(Pool(s => s.Scheduler = new SchedulerSpec { Replicas = 2 }), Settings, ClusterCapabilities.None);
        var args = Scheduler(objects).Spec.Template.Spec.Containers[0].Args;
        var leaseName = args[args.IndexOf("--lease-name") + 1];

        var leaseRules = objects.OfType<V1Role>().Single().Rules.Where(r => r.Resources.Contains("leases")).ToList();

        Assert.Equal("p-scheduler", leaseName);
        Assert.Equal(2, leaseRules.Count);
        Assert.All(leaseRules, r => Assert.Equal(["coordination.k8s.io"], r.ApiGroups));
        var named = Assert.Single(leaseRules, r => r.ResourceNames is { Count: > 0 });
        Assert.Equal([leaseName], named.ResourceNames);
        Assert.Equal(["get", "update"], named.Verbs);
        var unnamed = Assert.Single(leaseRules, r => r.ResourceNames is null);
        Assert.Equal(["create"], unnamed.Verbs);
    }

    [Theory]
    [InlineData(Engines.Sim)]
    [InlineData(Engines.Custom)]
    public void Worker_and_scheduler_pods_mount_the_pools_worker_token_read_only_and_pass_its_file(string engine)
    {
        var objects = DesiredState.Build(
            Pool(s => s.Workers = new WorkersSpec { Engine = engine, Image = "registry.example/worker:1" }), Settings, ClusterCapabilities.None);

        var secret = Assert.Single(objects.OfType<V1Secret>());
        Assert.Equal(("p-worker-token", "Opaque", null), (secret.Metadata.Name, secret.Type, secret.Data));
        // Every container that serves the worker protocol (port grpc) or calls it (the scheduler) has the token file.
        foreach (var pod in objects.OfType<V1Deployment>().Select(d => d.Spec.Template.Spec))
        {
            var volume = Assert.Single(pod.Volumes, v => v.Secret?.SecretName == "p-worker-token");
            Assert.Equal(("token", "token"), (volume.Secret.Items.Single().Key, volume.Secret.Items.Single().Path));
            var holders = pod.Containers.Where(c => c.Name == "scheduler" || c.Ports.Any(p => p.Name == "grpc")).ToList();
            Assert.Single(holders);
            var mount = Assert.Single(holders[0].VolumeMounts, m => m.Name == volume.Name);
            Assert.Equal(("/var/run/laps/worker-token", true, null), (mount.MountPath, mount.ReadOnlyProperty, mount.SubPath));
        }

        // `laps worker` is told the file; an image with its own command line finds it in its environment, to honour.
        var server = Workers(objects).Spec.Template.Spec.Containers.Single(c => c.Ports.Any(p => p.Name == "grpc"));
        if (server.Args.FirstOrDefault() == "worker")
        {
            Assert.Equal(DesiredState.WorkerTokenFile, server.Args[server.Args.IndexOf("--token-file") + 1]);
        }
        else
        {
            Assert.Equal(DesiredState.WorkerTokenFile, server.Env.Single(e => e.Name == "LAPS_WORKER_TOKEN_FILE").Value);
            Assert.DoesNotContain("--token-file", server.Args);
        }

        Assert.Equal(engine != Engines.Custom, server.Args.FirstOrDefault() == "worker");
        var scheduler = Scheduler(objects).Spec.Template.Spec.Containers.Single().Args;
        Assert.Equal("/var/run/laps/worker-token/token", scheduler[scheduler.IndexOf("--worker-token-file") + 1]);
    }

    [Fact]
    public void A_new_token_Secret_gets_32_random_bytes_in_hex_and_other_new_objects_nothing()
    {
        static string NewToken() => System.Text.Encoding.ASCII.GetString(
            ((V1Secret)DesiredState.ForCreate(DesiredState.Build(Pool(_ => { }), Settings, ClusterCapabilities.None).OfType<V1Secret>().Single())).Data["token"]);
        var configMap = DesiredState.Build(Pool(_ => { }), Settings, ClusterCapabilities.None).OfType<V1ConfigMap>().Single();
        var before = k8s.KubernetesJson.Serialize(configMap);

        var first = NewToken();

        Assert.Matches("^[0-9a-f]{64}$", first);
        Assert.NotEqual(first, NewToken());
        Assert.Equal(before, k8s.KubernetesJson.Serialize(DesiredState.ForCreate(configMap)));
    }

    [Theory]
    [InlineData(null, "keys")]
    [InlineData("keys.txt", "keys.txt")]
    public void API_keys_mount_the_users_Secret_key_as_the_scheduler_key_file(string? key, string expectedKey)
    {
        var objects = DesiredState.Build(
            Pool(s => s.Scheduler = new SchedulerSpec { ApiKeys = new ApiKeysSpec { SecretName = "team-keys", Key = key } }), Settings, ClusterCapabilities.None);
        var pod = Scheduler(objects).Spec.Template.Spec;
        var container = pod.Containers.Single();

        var volume = Assert.Single(pod.Volumes, v => v.Secret?.SecretName == "team-keys");
        Assert.Equal((expectedKey, "keys"), (volume.Secret.Items.Single().Key, volume.Secret.Items.Single().Path));
        Assert.Equal(("/var/run/laps/api-keys", true), container.VolumeMounts.Where(m => m.Name == volume.Name).Select(m => (m.MountPath, m.ReadOnlyProperty == true)).Single());
        Assert.Equal("/var/run/laps/api-keys/keys", container.Args[container.Args.IndexOf("--api-key-file") + 1]);
        Assert.DoesNotContain(Workers(objects).Spec.Template.Spec.Volumes, v => v.Secret?.SecretName == "team-keys");
    }

    [Fact]
    public void Without_API_keys_the_scheduler_gets_no_key_file()
    {
        var container = Scheduler(DesiredState.Build(Pool(_ => { }), Settings, ClusterCapabilities.None)).Spec.Template.Spec.Containers.Single();

        Assert.DoesNotContain("--api-key-file", container.Args);
        Assert.DoesNotContain(container.VolumeMounts, m => m.MountPath == DesiredState.ApiKeysDirectory);
    }

    [Fact]
    public void The_NetworkPolicy_lets_only_the_pools_scheduler_pods_reach_the_workers_grpc_port()
    {
        var objects = DesiredState.Build(Pool(_ => { }), Settings, ClusterCapabilities.None);

        var policy = Assert.Single(objects.OfType<V1NetworkPolicy>());

        Assert.Equal(Workers(objects).Spec.Selector.MatchLabels, policy.Spec.PodSelector.MatchLabels);
        Assert.Equal(["Ingress"], policy.Spec.PolicyTypes);
        var rule = Assert.Single(policy.Spec.Ingress);
        var peer = Assert.Single(rule.FromProperty);
        Assert.Null(peer.NamespaceSelector); // this namespace only
        Assert.Equal(Scheduler(objects).Spec.Selector.MatchLabels, peer.PodSelector.MatchLabels);
        Assert.Equal([("grpc", "TCP")], rule.Ports.Select(p => (p.Port.Value, p.Protocol)));
    }

    [Fact]
    public void Other_ports_of_the_worker_pods_are_open_only_to_Prometheus()
    {
        var pool = Pool(s => s.NetworkPolicy = new NetworkPolicySpec
        {
            Prometheus = new PrometheusPeerSpec { Namespace = "observability", PodLabels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "prometheus" } },
        });
        var resolved = ResolvedPool.From(pool, Settings);
        var workers = Workers(DesiredState.Build(pool, Settings, ClusterCapabilities.None));
        workers.Spec.Template.Spec.Containers.Add(new V1Container
        {
            Name = "engine",
            Ports = [new V1ContainerPort { Name = "engine-metrics", ContainerPort = 8000, Protocol = "TCP" }, new V1ContainerPort { ContainerPort = 9400 }],
        });

        var rules = DesiredState.WorkerNetworkPolicy(resolved, workers).Spec.Ingress;

        Assert.Equal(2, rules.Count);
        var metrics = rules[1];
        Assert.Equal([("engine-metrics", "TCP"), ("9400", "TCP")], metrics.Ports.Select(p => (p.Port.Value, p.Protocol)));
        var prometheus = Assert.Single(metrics.FromProperty);
        Assert.Equal(new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "observability" }, prometheus.NamespaceSelector.MatchLabels);
        Assert.Equal(new Dictionary<string, string> { ["app.kubernetes.io/name"] = "prometheus" }, prometheus.PodSelector.MatchLabels);
    }

    [Fact]
    public void By_default_Prometheus_is_any_pod_in_the_monitoring_namespace()
    {
        var pool = Pool(_ => { });
        var workers = Workers(DesiredState.Build(pool, Settings, ClusterCapabilities.None));
        workers.Spec.Template.Spec.Containers[0].Ports.Add(new V1ContainerPort { Name = "metrics", ContainerPort = 9090 });

        var prometheus = DesiredState.WorkerNetworkPolicy(ResolvedPool.From(pool, Settings), workers).Spec.Ingress[1].FromProperty.Single();

        Assert.Equal("monitoring", prometheus.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Null(prometheus.PodSelector);
    }

    [Fact]
    public void The_NetworkPolicy_can_be_turned_off()
    {
        var objects = DesiredState.Build(Pool(s => s.NetworkPolicy = new NetworkPolicySpec { Enabled = false }), Settings, ClusterCapabilities.None);

        Assert.Empty(objects.OfType<V1NetworkPolicy>());
    }

    [Theory]
    [InlineData("", "keys", "scheduler.apiKeys.secretName is required")]
    [InlineData("Team_Keys", "keys", "scheduler.apiKeys.secretName 'Team_Keys' must be a Secret's name")]
    [InlineData("team-keys", "keys/main", "scheduler.apiKeys.key 'keys/main' must be a Secret key")]
    public void Bad_API_key_Secrets_are_named_in_the_spec_errors(string secretName, string key, string error)
    {
        var pool = Pool(s => s.Scheduler = new SchedulerSpec { ApiKeys = new ApiKeysSpec { SecretName = secretName.Length == 0 ? null : secretName, Key = key } });

        Assert.Contains(SpecValidator.Validate(ResolvedPool.From(pool, Settings)), e => e.StartsWith(error, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("vllm")]
    [InlineData("sglang")]
    public void An_engine_pools_adapter_serves_the_engines_metrics_on_a_named_port_of_the_workers_Service(string engine)
    {
        var objects = DesiredState.Build(EnginePool(engine, monitoring: false), Settings, ClusterCapabilities.None);

        var pod = Workers(objects).Spec.Template.Spec;
        var adapter = pod.Containers.Single(c => c.Name == PoolLabels.Worker);
        var at = adapter.Args.IndexOf("--engine-metrics-port");
        Assert.True(at > 0, string.Join(' ', adapter.Args));
        Assert.Equal("9400", adapter.Args[at + 1]);
        var port = Assert.Single(adapter.Ports, p => p.Name == "engine-metrics");
        Assert.Equal((9400, "TCP"), (port.ContainerPort, port.Protocol));
        Assert.Null(pod.Containers.Single(c => c.Name == DesiredState.EngineContainer).Ports); // the engine stays on loopback

        var service = objects.OfType<V1Service>().Single(s => s.Metadata.Name == "p-workers");
        Assert.Equal(
            [("grpc", 50051, "grpc"), ("engine-metrics", 9400, "engine-metrics")],
            service.Spec.Ports.Select(p => (p.Name, p.Port, p.TargetPort.Value)));
    }

    [Fact]
    public void A_sim_pool_has_no_engine_metrics_port()
    {
        var objects = DesiredState.Build(Pool(_ => { }), Settings, ClusterCapabilities.None);

        var worker = Assert.Single(Workers(objects).Spec.Template.Spec.Containers);
        Assert.DoesNotContain("--engine-metrics-port", worker.Args);
        Assert.Equal(["grpc"], worker.Ports.Select(p => p.Name));
        Assert.Equal(["grpc"], objects.OfType<V1Service>().Single(s => s.Metadata.Name == "p-workers").Spec.Ports.Select(p => p.Name));
    }

    [Theory]
    [InlineData("vllm")]
    [InlineData("sglang")]
    public void An_engine_pool_is_scraped_by_a_second_ServiceMonitor_with_the_pools_interval_and_labels(string engine)
    {
        var objects = DesiredState.Build(EnginePool(engine, monitoring: true), Settings, new ClusterCapabilities(true));

        var monitors = objects.OfType<ServiceMonitor>().ToDictionary(m => m.Metadata.Name);
        Assert.Equal(["p", "p-engines"], monitors.Keys.Order());
        var pool = monitors["p"];
        var engines = monitors["p-engines"];
        Assert.Equal(pool.Metadata.Labels["release"], engines.Metadata.Labels["release"]);
        Assert.Equal("ns", engines.Metadata.NamespaceProperty);
        Assert.Equal("u", Assert.Single(engines.Metadata.OwnerReferences).Uid);

        // It selects the workers' Service (and only it), at the port that Service names.
        var selected = objects.OfType<V1Service>()
            .Where(s => engines.Spec.Selector.MatchLabels.All(l => s.Metadata.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            .ToList();
        var service = Assert.Single(selected);
        Assert.Equal("p-workers", service.Metadata.Name);
        var endpoint = Assert.Single(engines.Spec.Endpoints);
        Assert.Contains(endpoint.Port, service.Spec.Ports.Select(p => p.Name));
        Assert.Equal(("engine-metrics", "/metrics", "30s"), (endpoint.Port, endpoint.Path, endpoint.Interval));
        Assert.Equal(pool.Spec.Endpoints[0].Interval, endpoint.Interval);

        // The labels the dashboard's engine row and the laps-engine alerts select and group by (namespace and pod: the target's).
        Assert.Equal([("job", "laps-engine"), ("pool", "p")], endpoint.Relabelings!.Select(r => (r.TargetLabel, r.Replacement)));
    }

    [Theory]
    [InlineData("sim", true, true, false)]
    [InlineData("vllm", false, true, false)]
    [InlineData("vllm", true, false, false)]
    [InlineData("vllm", true, true, true)]
    public void The_engines_ServiceMonitor_is_desired_only_for_an_engine_pool_with_its_monitoring_on_and_the_CRD(string engine, bool enabled, bool crd, bool expected)
    {
        var pool = engine == "sim"
            ? Pool(s => s.Monitoring = new MonitoringSpec { ServiceMonitor = new ServiceMonitorSpec { Enabled = enabled } })
            : EnginePool(engine, enabled);

        var objects = DesiredState.Build(pool, Settings, new ClusterCapabilities(crd));

        Assert.Equal(expected, objects.OfType<ServiceMonitor>().Any(m => m.Metadata.Name == "p-engines"));
    }

    [Fact]
    public void An_engine_pools_NetworkPolicy_lets_Prometheus_reach_the_engine_metrics_port_and_nothing_else_but_grpc()
    {
        var objects = DesiredState.Build(EnginePool("vllm", monitoring: true), Settings, new ClusterCapabilities(true));

        var rules = Assert.Single(objects.OfType<V1NetworkPolicy>()).Spec.Ingress;

        Assert.Equal(2, rules.Count);
        Assert.Equal([("grpc", "TCP")], rules[0].Ports.Select(p => (p.Port.Value, p.Protocol)));
        Assert.Equal([("engine-metrics", "TCP")], rules[1].Ports.Select(p => (p.Port.Value, p.Protocol)));
        var prometheus = Assert.Single(rules[1].FromProperty);
        Assert.Equal("monitoring", prometheus.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
    }

    [Fact]
    public void A_bad_Prometheus_namespace_is_named_in_the_spec_errors()
    {
        var pool = Pool(s => s.NetworkPolicy = new NetworkPolicySpec { Prometheus = new PrometheusPeerSpec { Namespace = "Monitoring" } });

        Assert.Contains(
            "networkPolicy.prometheus.namespace 'Monitoring' must be a namespace's name (a DNS-1123 label)",
            SpecValidator.Validate(ResolvedPool.From(pool, Settings)));
    }

    private static V1Deployment Workers(IEnumerable<k8s.IKubernetesObject<V1ObjectMeta>> objects)
        => objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "p-workers");

    private static V1Deployment Scheduler(IEnumerable<k8s.IKubernetesObject<V1ObjectMeta>> objects)
        => objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "p-scheduler");

    private static string SchedulerHash(InferencePool pool)
        => DesiredState.Build(pool, Settings, ClusterCapabilities.None).OfType<V1Deployment>()
            .Single(d => d.Metadata.Name == "p-scheduler").Spec.Template.Metadata.Annotations[PoolLabels.ConfigHash];

    private static InferencePool EnginePool(string engine, bool monitoring) => Pool(s =>
    {
        s.Workers = new WorkersSpec { Engine = engine, Models = new ModelsSpec { Llm = "meta-llama/Llama-3.1-8B-Instruct", Ssm = "yuhuili/EAGLE-LLaMA3.1-Instruct-8B" } };
        s.Monitoring = new MonitoringSpec
        {
            ServiceMonitor = new ServiceMonitorSpec { Enabled = monitoring, Interval = "30s", Labels = new Dictionary<string, string> { ["release"] = "kube-prometheus-stack" } },
        };
    });

    private static InferencePool Pool(Action<InferencePoolSpec> spec)
    {
        var pool = new InferencePool { Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "ns", Uid = "u" } };
        spec(pool.Spec);
        return pool;
    }
}
