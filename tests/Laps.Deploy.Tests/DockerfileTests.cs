using System.Text.Json;
using System.Xml.Linq;

namespace Laps.Deploy.Tests;

/// <summary>
/// No Docker engine here, so the Dockerfile is checked by reading it: non-root, exec-form entry point on the
/// published laps.dll, and a build context that holds everything `dotnet publish src/Laps.Cli` needs.
/// </summary>
public class DockerfileTests
{
    private static readonly string[] Lines = File.ReadAllLines(Tools.InRepo("Dockerfile"))
        .Where(l => !l.TrimStart().StartsWith('#') && l.Trim().Length > 0).ToArray();

    private static string[] FinalStage => Lines[Array.FindLastIndex(Lines, l => l.StartsWith("FROM ", StringComparison.Ordinal))..];

    [Fact]
    public void The_image_builds_on_the_dotnet_10_sdk_and_runs_on_the_aspnet_10_runtime()
    {
        var froms = Lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();

        Assert.Equal(2, froms.Count);
        Assert.Contains("mcr.microsoft.com/dotnet/sdk:10.0 AS build", froms[0], StringComparison.Ordinal);
        Assert.Equal("FROM mcr.microsoft.com/dotnet/aspnet:10.0", froms[1]);
    }

    [Fact]
    public void The_final_stage_runs_as_the_base_images_non_root_user()
    {
        var user = FinalStage.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));

        Assert.Equal("USER $APP_UID", user);
    }

    [Fact]
    public void The_entry_point_is_exec_form_dotnet_on_the_published_laps_dll()
    {
        var entrypoint = FinalStage.Single(l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
        var publish = Lines.Single(l => l.Contains("dotnet publish", StringComparison.Ordinal));
        var assemblyName = XDocument.Load(Tools.InRepo("src", "Laps.Cli", "Laps.Cli.csproj")).Descendants("AssemblyName").Single().Value;

        Assert.Equal(["dotnet", "/app/laps.dll"], JsonSerializer.Deserialize<string[]>(entrypoint["ENTRYPOINT ".Length..])!);
        Assert.Equal("laps", assemblyName);
        Assert.Contains("dotnet publish src/Laps.Cli -c Release", publish, StringComparison.Ordinal);
        Assert.Contains("-o /app", Lines.SkipWhile(l => l != publish).Take(2).Aggregate((a, b) => a + b), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_project_the_cli_builds_from_is_in_the_build_context()
    {
        var copied = CopiedPaths();
        var ignored = DockerIgnored();

        foreach (var file in ProjectClosure(Tools.InRepo("src", "Laps.Cli", "Laps.Cli.csproj")))
        {
            var relative = Path.GetRelativePath(Tools.RepoRoot, file).Replace('\\', '/');
            Assert.True(copied.Any(c => relative == c || relative.StartsWith(c + "/", StringComparison.Ordinal)),
                $"{relative} is needed by dotnet publish but no COPY brings it into the image build");
            Assert.False(ignored.Any(i => relative == i || relative.StartsWith(i + "/", StringComparison.Ordinal)),
                $"{relative} is needed by dotnet publish but .dockerignore leaves it out");
        }
    }

    [Fact]
    public void Every_copied_path_exists()
    {
        Assert.All(CopiedPaths(), path => Assert.True(File.Exists(Tools.InRepo(path)) || Directory.Exists(Tools.InRepo(path)), path));
    }

    // COPY sources from the build context (not --from=stage), without trailing slashes.
    private static List<string> CopiedPaths() =>
        [.. Lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal))
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            .Select(p => p.TrimEnd('/'))];

    private static List<string> DockerIgnored() =>
        [.. File.ReadAllLines(Tools.InRepo(".dockerignore"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith("**", StringComparison.Ordinal))
            .Select(l => l.TrimEnd('/'))];

    // The project files and protos that Laps.Cli's build reads, following ProjectReference and Protobuf items.
    private static HashSet<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var current))
        {
            if (!seen.Add(current) || !current.EndsWith(".csproj", StringComparison.Ordinal))
            {
                continue;
            }
            var dir = Path.GetDirectoryName(current)!;
            foreach (var item in XDocument.Load(current).Descendants().Where(e => e.Name.LocalName is "ProjectReference" or "Protobuf"))
            {
                var include = item.Attribute("Include")!.Value.Replace('\\', '/');
                pending.Push(Path.GetFullPath(Path.Combine(dir, include)));
            }
        }
        return seen;
    }
}
