using Laps.Simulation.Experiments;

namespace Laps.Cli.Tests;

public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    private static void AssertOneUsageLine((int ExitCode, string Stdout, string Stderr) result, params string[] expectedFragments)
    {
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Stdout);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        foreach (var fragment in expectedFragments)
        {
            Assert.Contains(fragment, lines[0], StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--load", "0.x", "laps sim: --load: '0.x' is not a number")]
    [InlineData("--load", "0.5,,0.9", "--load: '' is not a number")]
    [InlineData("--load", "0.5,0.5", "--load: '0.5' is listed twice")]
    [InlineData("--batch", "1,two", "--batch: 'two' is not an integer")]
    [InlineData("--k", "3.5", "--k: '3.5' is not an integer")]
    [InlineData("--requests", "many", "--requests: 'many' is not an integer")]
    [InlineData("--predictor-tau", "high", "--predictor-tau: 'high' is not a number")]
    [InlineData("--laps-tolerance", "huge", "--laps-tolerance: 'huge' is not a number")]
    [InlineData("--laps-queues", "x", "--laps-queues: 'x' is not an integer")]
    [InlineData("--policies", "fcfs,lottery", "--policies: unknown policy 'lottery'")]
    [InlineData("--proposer", "medusa", "--proposer: unknown value 'medusa'")]
    [InlineData("--laps-variant", "literal", "--laps-variant: unknown value 'literal'")]
    [InlineData("--laps-estimate", "mean", "--laps-estimate: unknown value 'mean'")]
    [InlineData("--resume", "swap", "--resume: unknown value 'swap'")]
    [InlineData("--predictor", "psychic", "--predictor: unknown value 'psychic'")]
    [InlineData("--rate", "x", "--rate: 'x' is not a number")]
    public void Unparsable_values_name_the_option_and_value(string option, string value, string expected)
        => AssertOneUsageLine(new Cli().Run("sim", "--out", _out.Path, option, value), expected);

    [Theory]
    [InlineData("--load", "12", "--load: '12'")]
    [InlineData("--load", "0", "--load: '0'")]
    [InlineData("--rate", "0", "--rate: '0'")]
    [InlineData("--step-overhead", "-0.001", "--step-overhead: '-0.001'")]
    [InlineData("--batch", "0", "--batch: '0'")]
    [InlineData("--k", "17", "--k: '17'")]
    [InlineData("--requests", "0", "--requests: '0'")]
    [InlineData("--seeds", "0", "--seeds: '0'")]
    [InlineData("--predictor-tau", "1.5", "--predictor-tau: '1.5'")]
    [InlineData("--predictor-tau", "0", "--predictor-tau: '0'")]
    [InlineData("--kv-capacity", "0", "--kv-capacity: '0'")]
    [InlineData("--parallel", "0", "--parallel: '0'")]
    [InlineData("--laps-queues", "0", "--laps-queues: '0'")]
    [InlineData("--laps-theta0", "-1", "--laps-theta0: '-1'")]
    [InlineData("--laps-ratio", "0.5", "--laps-ratio: '0.5'")]
    [InlineData("--laps-window", "0", "--laps-window: '0'")]
    [InlineData("--laps-tolerance", "-0.1", "--laps-tolerance: '-0.1'")]
    [InlineData("--laps-min-steps", "-1", "--laps-min-steps: '-1'")]
    [InlineData("--mlfq-levels", "0", "--mlfq-levels: '0'")]
    [InlineData("--mlfq-quantum", "0", "--mlfq-quantum: '0'")]
    public void Out_of_range_values_name_the_option_and_value(string option, string value, string expected)
        => AssertOneUsageLine(new Cli().Run("sim", "--out", _out.Path, option, value), "laps sim: ", expected, "out of range");

    [Fact]
    public void Rate_and_load_together_are_rejected()
        => AssertOneUsageLine(new Cli().Run("sim", "--out", _out.Path, "--rate", "1", "--load", "0.5"), "laps sim: --rate:", "not both");

    [Fact]
    public void A_blank_workload_is_rejected()
        => AssertOneUsageLine(new Cli().Run("sim", "--out", _out.Path, "--workload", " "), "laps sim: --workload:");

    [Fact]
    public void An_unknown_option_is_one_line()
        => AssertOneUsageLine(new Cli().Run("sim", "--speed", "9"), "laps sim: ", "'--speed'");

    [Theory]
    [InlineData("sim")]
    [InlineData("worker")]
    [InlineData("emulate")]
    [InlineData("scheduler")]
    [InlineData("up")]
    [InlineData("bench")]
    [InlineData("operator")]
    public void Help_shows_each_default_once(string command)
    {
        var (exitCode, stdout, _) = new Cli().Run(command, "--help");

        Assert.Equal(0, exitCode);
        Assert.All(stdout.Split('\n').Where(l => l.TrimStart().StartsWith("--", StringComparison.Ordinal)), line =>
            Assert.False(line.Contains("[default:", StringComparison.Ordinal) && line.Contains("(default", StringComparison.Ordinal), line));
    }

    [Fact]
    public void An_unknown_command_lists_the_commands()
        => AssertOneUsageLine(new Cli().Run("simulate", "--load", "0.5"), "laps: ", "'simulate'", "commands: sim, worker, emulate, scheduler, up, bench, operator");

    [Fact]
    public void An_unwritable_out_directory_is_named_before_anything_runs()
    {
        var file = _out.File("a-file");
        File.WriteAllText(file, "not a directory");

        AssertOneUsageLine(new Cli().Run("sim", "--out", Path.Combine(file, "sim"), "--requests", "10"), "laps sim: --out: ", "is not a writable directory");
    }

    [Fact]
    public void A_missing_command_is_one_line()
        => AssertOneUsageLine(new Cli().Run(), "laps: ");

    public static TheoryData<Exception, string> SimulatorFailures => new()
    {
        { new FileNotFoundException("workload file 'traces/x.jsonl' not found", "traces/x.jsonl"), "traces/x.jsonl" },
        { new DirectoryNotFoundException("no directory 'traces'"), "no directory 'traces'" },
        { new IOException("disk on fire"), "disk on fire" },
        { new InvalidDataException("x.jsonl line 3: accLen is missing"), "line 3: accLen is missing" },
        { new FormatException("arrivals: 'gamma:x' has no CV"), "'gamma:x' has no CV" },
        { new System.Text.Json.JsonException("x.jsonl line 4:\nunexpected '}'"), "line 4: unexpected '}'" },
        { new ArgumentException("unknown workload profile 'shargpt'", "Workload"), "--workload: unknown workload profile 'shargpt'" },
        { new AggregateException(new InvalidDataException("run 3: bad trace")), "run 3: bad trace" },
    };

    [Theory]
    [MemberData(nameof(SimulatorFailures))]
    public void Bad_input_found_while_simulating_is_one_line(Exception failure, string expected)
    {
        var cli = new Cli(_ => throw failure);

        AssertOneUsageLine(cli.Run("sim", "--out", _out.Path), "laps sim: ", expected);
    }

    [Fact]
    public void Bad_input_while_constructing_the_runner_is_one_line()
    {
        IReadOnlyList<RunResult> Construct(ExperimentSpec spec) => throw new ArgumentException("no such arrivals trace", nameof(ExperimentSpec.Arrivals));

        AssertOneUsageLine(new Cli(Construct).Run("sim", "--out", _out.Path), "laps sim: --arrivals: no such arrivals trace");
    }
}
