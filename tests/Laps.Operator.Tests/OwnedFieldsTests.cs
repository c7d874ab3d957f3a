using System.Text.Json.Nodes;
using k8s.Models;
using Laps.Operator.Controller;

namespace Laps.Operator.Tests;

public sealed class OwnedFieldsTests
{
    private static readonly V1ConfigMap Desired = new()
    {
        ApiVersion = "v1",
        Kind = V1ConfigMap.KubeKind,
        Metadata = new V1ObjectMeta { Name = "c", NamespaceProperty = "serving", Labels = new Dictionary<string, string> { ["app"] = "laps" } },
        Data = new Dictionary<string, string> { ["a"] = "1", ["empty"] = "" },
    };

    [Theory]
    [InlineData("""{"metadata":{"name":"c","uid":"u","resourceVersion":"9","labels":{"app":"laps","added":"x"}},"data":{"a":"1","empty":""}}""", true)]
    [InlineData("""{"metadata":{"labels":{"app":"laps"}},"data":{"a":"1"}}""", true)]
    [InlineData("""{"metadata":{"labels":{"app":"laps"}},"data":{"a":"1","b":"2"}}""", true)]
    [InlineData("""{"metadata":{"labels":{"app":"laps"}},"data":{"a":"2"}}""", false)]
    [InlineData("""{"metadata":{"labels":{}},"data":{"a":"1"}}""", false)]
    [InlineData("""{"metadata":{},"data":{"a":"1"}}""", false)]
    public void A_live_object_holds_the_desired_fields_whatever_else_it_has(string live, bool held)
        => Assert.Equal(held, OwnedFields.HeldBy(OwnedFields.Of(Desired), JsonNode.Parse(live)!));

    [Fact]
    public void Lists_match_entry_by_entry_and_their_entries_may_carry_defaults()
    {
        var desired = new V1Container { Name = "w", Args = ["a", "b"], Ports = [new V1ContainerPort { Name = "grpc", ContainerPort = 50051 }] };
        var pod = new V1Pod { ApiVersion = "v1", Kind = V1Pod.KubeKind, Metadata = new V1ObjectMeta(), Spec = new V1PodSpec { Containers = [desired] } };
        var fields = OwnedFields.Of(pod);

        Assert.True(OwnedFields.HeldBy(fields, Live("""["a","b"]""", """[{"name":"grpc","containerPort":50051,"protocol":"TCP"}]""")));
        Assert.False(OwnedFields.HeldBy(fields, Live("""["a","b","c"]""", """[{"name":"grpc","containerPort":50051}]""")));
        Assert.False(OwnedFields.HeldBy(fields, Live("""["b","a"]""", """[{"name":"grpc","containerPort":50051}]""")));
        Assert.False(OwnedFields.HeldBy(fields, Live("""["a","b"]""", "[]")));

        static JsonNode Live(string args, string ports)
            => JsonNode.Parse($$$"""{"spec":{"containers":[{"name":"w","args":{{{args}}},"ports":{{{ports}}},"imagePullPolicy":"IfNotPresent"}]}}""")!;
    }
}
