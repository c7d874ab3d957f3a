using System.Diagnostics;

namespace Laps.Monitoring.Tests;

/// <summary>
/// The real Prometheus binaries (Debian's prometheus package). CI installs them (<c>scripts/install-tools.sh</c>),
/// so there a missing one fails the test; a developer machine without them skips the check with a note.
/// </summary>
internal static class ExternalTool
{
    /// <summary>The binary's full path, or null on a developer machine without it (CI=true: fails instead).</summary>
    public static string? Find(string name)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
        if (path is null && IsCi)
        {
            Assert.Fail($"{name} is not on PATH; CI installs it with scripts/install-tools.sh (Debian package prometheus)");
        }

        return path;
    }

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

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
