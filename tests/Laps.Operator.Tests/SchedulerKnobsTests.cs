using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Laps.Operator.Desired;
using Laps.Operator.Model;
using Laps.Scheduler;
using Laps.Scheduling.Policies;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Laps.Operator.Tests;

/// <summary>
/// The CRD's scheduler fields and the table of scheduler settings (<see cref="SchedulerKnobs"/>) are one list, and
/// what a pool sets reaches the sidecar's options through the ConfigMap the operator writes, bound as the sidecar
/// binds it.
/// </summary>
public sealed class SchedulerKnobsTests
{
    // spec.scheduler fields that shape the scheduler's pods, not its scheduling.
    private static readonly string[] PodFields = ["replicas", "image", "service", "apiKeys", "resources", "nodeSelector", "tolerations"];

    private static readonly CrdSchema Schema = CrdSchema.Load();

    public static TheoryData<string> Knobs => new(SchedulerKnobs.All.Select(k => k.Key));

    [Fact]
    public void Every_scheduling_field_of_the_CRD_is_a_knob_and_every_knob_a_CRD_field()
    {
        var fields = Leaves(SchedulerSchema(), "").Select(f => f.Path).Order().ToList();

        Assert.Equal(SchedulerKnobs.All.Select(k => k.CrdField).Order(), fields);
    }

    [Theory]
    [MemberData(nameof(Knobs))]
    public void Each_CRD_field_has_its_knobs_type_choices_and_default(string key)
    {
        var knob = SchedulerKnobs.All.Single(k => k.Key == key);
        var field = Leaves(SchedulerSchema(), "").Single(f => f.Path == knob.CrdField).Schema;

        var type = field["type"]!.GetValue<string>();
        Assert.Equal(knob.Type switch { KnobType.WholeNumber => "integer", KnobType.Number => "number", KnobType.Switch => "boolean", _ => "string" }, type);
        if (knob.Type == KnobType.Choice)
        {
            Assert.Equal(knob.Choices.Order(), field["enum"]!.AsArray().Select(v => v!.GetValue<string>()).Order());
        }

        if (field["default"] is { } crdDefault)
        {
            Assert.Equal(knob.Default, crdDefault.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(Knobs))]
    public void Each_knob_a_pool_sets_reaches_the_sidecars_options_through_the_ConfigMap(string key)
    {
        var knob = SchedulerKnobs.All.Single(k => k.Key == key);
        var word = OtherThanDefault(knob);

        var options = Sidecar(PoolWith(knob, word));

        Assert.Equal(word, Word(ValueAt(options, knob.Key)));
    }

    [Fact]
    public void A_pool_that_sets_no_knob_runs_the_sidecars_defaults()
    {
        var options = Sidecar(PoolWith(null, null));

        Assert.All(SchedulerKnobs.All, k => Assert.Equal(k.Default, Word(ValueAt(options, k.Key))));
    }

    [Theory]
    [MemberData(nameof(Knobs))]
    public void The_CRDs_bounds_are_values_the_sidecar_accepts(string key)
    {
        var knob = SchedulerKnobs.All.Single(k => k.Key == key);
        var field = Leaves(SchedulerSchema(), "").Single(f => f.Path == knob.CrdField).Schema;
        var exclusive = field["exclusiveMinimum"]?.GetValue<bool>() == true;
        var bounds = new[] { exclusive ? null : field["minimum"], field["maximum"] }.OfType<JsonNode>().Select(b => b.ToString()).ToList();

        Assert.All(bounds, bound => Assert.Equal(bound, Word(ValueAt(Sidecar(PoolWith(knob, bound)), knob.Key))));
    }

    // A valid pool (as the API server would store it) with one knob set, beside the policy it configures.
    private static JsonObject PoolWith(SchedulerKnob? knob, string? word)
    {
        var scheduler = new JsonObject();
        if (knob is not null)
        {
            if (knob.Policies.Count > 0)
            {
                scheduler["policy"] = knob.Policies[0];
            }

            var path = knob.CrdField.Split('.');
            var parent = path[..^1].Aggregate(scheduler, (o, name) => (JsonObject)(o[name] ??= new JsonObject()));
            parent[path[^1]] = knob.Type switch
            {
                KnobType.WholeNumber => JsonValue.Create(int.Parse(word!, CultureInfo.InvariantCulture)),
                KnobType.Number => JsonValue.Create(double.Parse(word!, CultureInfo.InvariantCulture)),
                KnobType.Switch => JsonValue.Create(word == "on"),
                _ => JsonValue.Create(word),
            };
        }

        var pool = new JsonObject
        {
            ["apiVersion"] = InferencePool.GroupVersion,
            ["kind"] = InferencePool.KindName,
            ["metadata"] = new JsonObject { ["name"] = "p", ["namespace"] = "ns" },
            ["spec"] = new JsonObject { ["scheduler"] = scheduler, ["workers"] = new JsonObject { ["maxBatch"] = 4096 } },
        };
        var stored = JsonNode.Parse(pool.ToJsonString())!.AsObject(); // values as JSON text holds them
        Assert.Empty(Schema.Validate(stored));
        return stored;
    }

    // The pool's ConfigMap, bound and validated by the sidecar's own host (not started), with a worker to schedule.
    private static SchedulerOptions Sidecar(JsonNode pool)
    {
        var objects = DesiredState.Build(KubernetesJson.Deserialize<InferencePool>(pool.ToJsonString()), new OperatorSettings(), ClusterCapabilities.None);
        var config = objects.OfType<V1ConfigMap>().Single().Data[DesiredState.ConfigKey];
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(config)));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Scheduler:Workers:0"] = "127.0.0.1:1" });
        builder.AddLapsScheduler();
        using var host = builder.Build();
        return host.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
    }

    // A value other than the default that the CRD and the sidecar accept.
    private static string OtherThanDefault(SchedulerKnob knob) => knob.Type switch
    {
        KnobType.Switch => knob.Default == "on" ? "off" : "on",
        KnobType.Choice => knob.Choices.First(c => c != knob.Default),
        KnobType.WholeNumber => (int.Parse(knob.Default, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture),
        _ => (double.Parse(knob.Default, CultureInfo.InvariantCulture) * 1.5).ToString("R", CultureInfo.InvariantCulture),
    };

    // "Laps:Queues" → options.Laps.Queues.
    private static object? ValueAt(object options, string key)
        => key.Split(':').Aggregate<string, object?>(options, (o, name) => o!.GetType().GetProperty(name)!.GetValue(o));

    private static string Word(object? value) => value switch
    {
        null or false => "off",
        true or StarvationGuard => "on",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        Enum e => e.ToString().ToLowerInvariant(),
        _ => value.ToString()!,
    };

    private static JsonObject SchedulerSchema()
        => Schema.Crd["spec"]!["versions"]![0]!["schema"]!["openAPIV3Schema"]!["properties"]!["spec"]!["properties"]!["scheduler"]!.AsObject();

    // Leaf fields (not objects with properties) under a schema, by dotted path, without the pods' fields.
    private static IEnumerable<(string Path, JsonObject Schema)> Leaves(JsonObject schema, string prefix)
    {
        foreach (var (name, child) in schema["properties"]!.AsObject())
        {
            if (prefix.Length == 0 && PodFields.Contains(name))
            {
                continue;
            }

            var path = prefix + name;
            if (child!["properties"] is not null)
            {
                foreach (var leaf in Leaves(child.AsObject(), path + "."))
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return (path, child.AsObject());
            }
        }
    }
}
