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

    private static string SchedulerHash(InferencePool pool)
        => DesiredState.Build(pool, Settings, ClusterCapabilities.None).OfType<V1Deployment>()
            .Single(d => d.Metadata.Name == "p-scheduler").Spec.Template.Metadata.Annotations[PoolLabels.ConfigHash];

    private static InferencePool Pool(Action<InferencePoolSpec> spec)
    {
        var pool = new InferencePool { Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "ns", Uid = "u" } };
        spec(pool.Spec);
        return pool;
    }
}
