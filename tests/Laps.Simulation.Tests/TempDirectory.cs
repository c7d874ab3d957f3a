namespace Laps.Simulation.Tests;

/// <summary>A scratch directory under the system temp folder (optionally a named subfolder), deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    private readonly string _root;

    public TempDirectory(string? subfolder = null)
    {
        _root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "laps-tests-" + Guid.NewGuid().ToString("N"));
        Path = subfolder is null ? _root : System.IO.Path.Combine(_root, subfolder);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Write(string fileName, string contents)
    {
        var path = System.IO.Path.Combine(Path, fileName);
        File.WriteAllText(path, contents);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
