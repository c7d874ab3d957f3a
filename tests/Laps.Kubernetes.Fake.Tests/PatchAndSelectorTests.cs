using System.Text.Json.Nodes;

namespace Laps.Kubernetes.Fake.Tests;

// The pure pieces, without HTTP.
public sealed class PatchAndSelectorTests
{
    [Theory]
    [InlineData("""{"a":1,"b":{"c":2}}""", """{"b":{"c":null,"d":3},"e":[1]}""", """{"a":1,"b":{"d":3},"e":[1]}""")]
    [InlineData("""{"list":[1,2]}""", """{"list":[3]}""", """{"list":[3]}""")]
    public void Merge_patch_follows_RFC_7386(string target, string patch, string expected) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), Patches.Merge(JsonNode.Parse(target), JsonNode.Parse(patch))));

    [Theory]
    [InlineData("""[{"op":"add","path":"/l/-","value":3}]""", """{"l":[1,3],"m":{"k":"v"}}""")]
    [InlineData("""[{"op":"add","path":"/l/0","value":0}]""", """{"l":[0,1],"m":{"k":"v"}}""")]
    [InlineData("""[{"op":"remove","path":"/m/k"}]""", """{"l":[1],"m":{}}""")]
    [InlineData("""[{"op":"replace","path":"/l/0","value":9}]""", """{"l":[9],"m":{"k":"v"}}""")]
    [InlineData("""[{"op":"move","from":"/m/k","path":"/n"}]""", """{"l":[1],"m":{},"n":"v"}""")]
    [InlineData("""[{"op":"copy","from":"/m","path":"/n"}]""", """{"l":[1],"m":{"k":"v"},"n":{"k":"v"}}""")]
    [InlineData("""[{"op":"add","path":"/m/a~1b","value":1}]""", """{"l":[1],"m":{"k":"v","a/b":1}}""")]
    public void Json_patch_follows_RFC_6902(string patch, string expected)
    {
        var result = Patches.Apply(JsonNode.Parse("""{"l":[1],"m":{"k":"v"}}""")!, JsonNode.Parse(patch)!.AsArray());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), result), result.ToJsonString());
    }

    [Fact]
    public void A_failed_json_patch_test_is_422() =>
        Assert.Equal(422, Assert.Throws<ApiException>(() => Patches.Apply(JsonNode.Parse("""{"a":1}""")!,
            JsonNode.Parse("""[{"op":"test","path":"/a","value":2}]""")!.AsArray())).Code);

    [Theory]
    [InlineData("spec.nodeName=x")]
    [InlineData("status.phase!=Running")]
    public void Field_selectors_beyond_name_and_namespace_are_400(string selector) =>
        Assert.Equal(400, Assert.Throws<ApiException>(() => Selector.ParseFields(selector)).Code);

    [Theory]
    [InlineData("app in web")]
    [InlineData("app > 1")]
    public void Malformed_label_selectors_are_400(string selector) =>
        Assert.Equal(400, Assert.Throws<ApiException>(() => Selector.ParseLabels(selector)).Code);
}
