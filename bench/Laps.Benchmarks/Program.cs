using BenchmarkDotNet.Running;

// `--sidecar-overhead [policies] [batch] [queued] [steps]`: the per-step distribution of the sidecar's own work (JSON);
// anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--sidecar-overhead")
{
    return await Laps.Benchmarks.SidecarOverhead.RunAsync(args).ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(typeof(Laps.Benchmarks.DecisionBenchmarks).Assembly).Run(args);
return 0;
