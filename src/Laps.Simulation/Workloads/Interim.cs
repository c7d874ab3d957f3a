using System.Text.Json;

namespace Laps.Simulation.Workloads;

// INTERIM: replaced by the workloads branch.
public sealed class Workload(string name, IReadOnlyList<WorkloadEntry> entries)
{
    public string Name { get; } = name;

    public IReadOnlyList<WorkloadEntry> Sample(int n, Random random)
    {
        var list = new WorkloadEntry[n];
        for (var i = 0; i < n; i++)
        {
            list[i] = entries[random.Next(entries.Count)];
        }

        return list;
    }
}

public static class WorkloadCatalog
{
    public static Workload Load(string spec)
    {
        var entries = new List<WorkloadEntry>();
        foreach (var path in spec.Split(','))
        {
            foreach (var line in File.ReadLines(path))
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                entries.Add(new WorkloadEntry(
                    root.GetProperty("dataset").GetString()!,
                    root.GetProperty("id").GetString()!,
                    root.GetProperty("prompt_tokens").GetInt32(),
                    root.GetProperty("acc_len_eagle").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    root.GetProperty("acc_len_ngram").EnumerateArray().Select(x => x.GetInt32()).ToArray()));
            }
        }

        return new Workload(spec, entries);
    }
}
