using BenchmarkDotNet.Running;

// `--sidecar-overhead [policies] [batch] [queued] [steps]`: the per-step distribution of the sidecar's own work (JSON);
// `--adapter-overhead [engines] [batches] [steps] [time scale]`: the same for the engine adapter in front of `laps emulate`;
// anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--sidecar-overhead")
{
    return await Laps.Benchmarks.SidecarOverhead.RunAsync(args).ConfigureAwait(false);
}

if (args.Length > 0 && args[0] == "--adapter-overhead")
{
    return await Laps.Benchmarks.AdapterOverhead.RunAsync(args).ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(typeof(Laps.Benchmarks.DecisionBenchmarks).Assembly).Run(args);
return 0;
