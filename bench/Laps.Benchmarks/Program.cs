using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Laps.Benchmarks.DecisionBenchmarks).Assembly).Run(args);
