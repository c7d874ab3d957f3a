using System.Diagnostics;

namespace Laps.Monitoring.Tests;

/// <summary>
/// The real Prometheus binaries (Debian's prometheus package), required: <c>scripts/install-tools.sh</c> installs
/// them (CI runs it), and a missing one fails the test that needs it rather than letting it pass unchecked.
/// </summary>
internal static class ExternalTool
{
    /// <summary>The binary's full path on PATH.</summary>
    public static string Find(string name)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
        Assert.True(path is not null, $"{name} is not on PATH: run scripts/install-tools.sh (it installs the Debian package prometheus)");
        return path;
    }

    /// <summary>Runs a short-lived tool to completion within <paramref name="bound"/>; returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(string path, IEnumerable<string> args, string workingDirectory, TimeSpan bound)
    {
        var info = new ProcessStartInfo(path)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(bound))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(path)} {string.Join(' ', info.ArgumentList)} did not finish within {bound}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
