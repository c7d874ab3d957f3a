using System.CommandLine;
using k8s;
using k8s.Models;
using Laps.Cli.Commands;
using Laps.Operator;
using Laps.Operator.Desired;
using Laps.Operator.Model;
using Laps.Scheduler;
using Laps.Scheduling.Policies;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Laps.Cli.Tests;

/// <summary>
/// The same scheduler settings mean the same thing wherever they are given: <c>laps sim</c>, <c>laps up</c>,
/// <c>laps scheduler</c> and an InferencePool (its scheduler Deployment's arguments with its ConfigMap as the
/// settings file, as the pod runs them). Live settings are read back through the sidecar's own host.
/// </summary>
public sealed class SettingsAgreementTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string[], string, PolicySettings> SameInput => new()
    {
        // The paper variant is the paper's whole reading everywhere, not the one knob.
        { ["--laps-variant", "paper"], "laps: {variant: paper}", new PolicySettings { Laps = LapsOptions.Paper } },

        // Knobs given beside it override the preset.
        {
            ["--laps-variant", "paper", "--laps-theta0", "3", "--laps-reserve-top", "on", "--laps-aging"],
            "laps: {variant: paper, theta0Steps: 3, reserveTopQueue: true, aging: true}",
            new PolicySettings { Laps = LapsOptions.Paper with { Theta0Steps = 3, ReserveTopQueue = true, Aging = new StarvationGuard() } }
        },
        {
            ["--laps-queues", "6", "--laps-tolerance", "inf", "--laps-conditioning", "neighbours", "--laps-posterior-neighbours", "32"],
            "laps: {queues: 6, stabilityTolerance: 1, conditioning: neighbours, posteriorNeighbours: 32}",
            new PolicySettings { Laps = new LapsOptions { Queues = 6, StabilityTolerance = double.PositiveInfinity, Conditioning = PosteriorConditioning.Neighbours, PosteriorNeighbours = 32 } }
        },
    };

    [Theory]
    [MemberData(nameof(SameInput))]
    public void Sim_up_scheduler_and_the_operator_give_the_same_policy_settings(string[] knobs, string poolKnobs, PolicySettings expected)
    {
        // The CRD caps the tolerance at 1, which is as good as infinity for a rate in [0, 1].
        var pool = Operator($"policy: laps, {poolKnobs}").PolicySettings;
        if (expected.Laps.StabilityTolerance is double.PositiveInfinity)
        {
            pool = pool with { Laps = pool.Laps with { StabilityTolerance = double.PositiveInfinity } };
        }

        Assert.Equal(expected, Sim(knobs));
        Assert.Equal(expected, Up(knobs).PolicySettings);
        Assert.Equal(expected, Scheduler(["--workers", "w:1", .. knobs]).PolicySettings);
        Assert.Equal(expected, pool);
    }

    [Fact]
    public void The_scheduler_and_a_pool_run_the_same_policy_batch_and_queue_limit()
    {
        var scheduler = Scheduler("--workers", "w:1", "--policy", "srpt", "--starvation-guard", "--batch", "16", "--max-queued", "512");
        var pool = Operator("policy: srpt, starvationGuard: true, batchSize: 16, maxQueued: 512");

        Assert.Equal(("srpt", 16, 512, new StarvationGuard()), (scheduler.Policy, scheduler.Batch, scheduler.MaxQueued, scheduler.StarvationGuard));
        Assert.Equal(("srpt", 16, 512, new StarvationGuard()), (pool.Policy, pool.Batch, pool.MaxQueued, pool.StarvationGuard));
    }

    [Fact]
    public void A_pool_with_api_keys_runs_a_scheduler_that_reads_its_key_file()
    {
        var pool = Operator("apiKeys: {secretName: clients}");

        Assert.Equal(_dir.File("api-keys"), pool.ApiKeyFile);
        Assert.True(pool.FairShare);
        Assert.Equal("team-a", Laps.Scheduler.Api.ApiKeys.FromFile(pool.ApiKeyFile!).TenantOf("Bearer sk-team-a"));
    }

    [Theory]
    [InlineData("scheduler", "--workers", "w:1")]
    [InlineData("up", "--port", "0")]
    public void A_bad_key_file_stops_the_command_naming_the_file_and_line(params string[] args)
    {
        var file = _dir.File("bad-keys");
        File.WriteAllText(file, "# clients\nk1 team-a\nk2 team b\n");

        var (exitCode, stderr) = Run([.. args, "--api-key-file", file]);

        Assert.Equal(2, exitCode);
        Assert.StartsWith($"laps {args[0]}: --api-key-file: '{file}' line 3: expected a key and an optional tenant name", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Up_and_the_scheduler_take_the_key_file_and_the_fair_share_switch_alike()
    {
        var file = _dir.File("keys");
        File.WriteAllText(file, "k1 a\n");
        var scheduler = Scheduler("--workers", "w:1", "--api-key-file", file, "--fair-share", "off");
        var up = Up("--api-key-file", file, "--fair-share", "off");

        Assert.Equal((file, false), (scheduler.ApiKeyFile, scheduler.FairShare));
        Assert.Equal((file, false), (up.ApiKeyFile, up.FairShare));
        Assert.True(Scheduler("--workers", "w:1").FairShare);
        Assert.Null(Up().ApiKeyFile);
    }

    [Theory]
    [InlineData("scheduler", "--workers", "w:1")]
    [InlineData("up", "--port", "0")]
    public void A_policy_that_cannot_run_live_is_refused_at_start_naming_it(params string[] args)
    {
        var (exitCode, stderr) = Run([.. args, "--policy", "oracle"]);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"laps {args[0]}: --policy: 'oracle' cannot run live", line, StringComparison.Ordinal);
    }

    [Fact]
    public void The_simulator_keeps_the_oracle()
        => Assert.Contains(OracleSrptPolicy.PolicyName, new Cli().Run("sim", "--help").Stdout, StringComparison.Ordinal);

    [Fact]
    public void A_settings_file_that_names_the_oracle_is_refused_too()
    {
        var file = _dir.File("oracle.json");
        File.WriteAllText(file, """{"Scheduler": {"Policy": "oracle", "Workers": ["w:1"]}}""");

        var (exitCode, stderr) = Run("scheduler", "--config", file);

        Assert.Equal(2, exitCode);
        Assert.Contains("'oracle' cannot run live", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("up")]
    [InlineData("scheduler")]
    public void Help_offers_only_live_policies(string command)
    {
        var (_, stdout, _) = new Cli().Run(command, "--help");

        Assert.Contains("--policy <fcfs|mlfq|las|sjf|srpt|laps>", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("oracle", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sim")]
    [InlineData("up")]
    [InlineData("scheduler")]
    public void Help_shows_each_default_once(string command)
    {
        var lines = new Cli().Run(command, "--help").Stdout.Split('\n');

        Assert.DoesNotContain(lines, l => l.Contains("(default", StringComparison.Ordinal) && l.Contains("[default:", StringComparison.Ordinal));
        Assert.All(SchedulerKnobs.PolicyKnobs, k => Assert.Single(lines, l => l.TrimStart().StartsWith(k.Option + " ", StringComparison.Ordinal) && l.EndsWith($"[default: {k.Default}]", StringComparison.Ordinal)));
    }

    [Fact]
    public void Up_and_scheduler_share_every_sidecar_option()
    {
        var up = new UpCommand().Options.Select(o => o.Name).ToHashSet();
        var scheduler = new SchedulerCommand().Options.Select(o => o.Name).ToHashSet();

        Assert.Subset(up, SchedulerKnobs.All.Select(k => k.Option).Concat(["--port", "--host", "--config", "--model", "--max-prompt-tokens"]).ToHashSet());
        Assert.Subset(scheduler, SchedulerKnobs.All.Select(k => k.Option).ToHashSet());
    }

    private PolicySettings Sim(params string[] args)
    {
        var cli = new Cli();
        var (exitCode, _, stderr) = cli.Run(["sim", "--out", _dir.Path, .. args]);
        Assert.True(exitCode == 0, stderr);
        return cli.Spec!.PolicySettings;
    }

    private static (int ExitCode, string Stderr) Run(params string[] args)
    {
        using var stderr = new StringWriter();
        var exitCode = new LapsCommand(schedulerRunner: (_, _, _) => Task.FromResult(0))
            .Invoke(args, new InvocationConfiguration { Output = TextWriter.Null, Error = stderr });
        return (exitCode, stderr.ToString());
    }

    private static SchedulerOptions Scheduler(params string[] args)
    {
        SchedulerInvocation? invocation = null;
        using var stderr = new StringWriter();
        var exitCode = new LapsCommand(schedulerRunner: (i, _, _) =>
            {
                invocation = i;
                return Task.FromResult(0);
            })
            .Invoke(["scheduler", .. args], new InvocationConfiguration { Output = TextWriter.Null, Error = stderr });
        Assert.True(exitCode == 0, stderr.ToString());
        return Live(invocation!);
    }

    // What `laps up` runs once its worker listens.
    private static SchedulerOptions Up(params string[] args)
    {
        var scheduler = UpCommand.Parse(["--port", "0", .. args]).Scheduler;
        return Live(scheduler with { Settings = new Dictionary<string, string?>(scheduler.Settings) { ["Scheduler:Workers:0"] = "127.0.0.1:1" } });
    }

    // The options the sidecar's host binds (not started).
    private static SchedulerOptions Live(SchedulerInvocation invocation)
    {
        using var app = SchedulerCommand.BuildApp(invocation);
        return app.Services.GetRequiredService<IOptions<SchedulerOptions>>().Value;
    }

    // The operator's scheduler Deployment arguments with its ConfigMap as the --config file, as the pod runs them.
    private SchedulerOptions Operator(string schedulerSpec)
    {
        var pool = KubernetesYaml.Deserialize<InferencePool>(
            $"apiVersion: laps.dev/v1alpha1\nkind: InferencePool\nmetadata: {{name: p, namespace: ns}}\nspec:\n  scheduler: {{{schedulerSpec}}}\n", strict: true);
        var objects = DesiredState.Build(pool, new OperatorSettings(), new ClusterCapabilities(ServiceMonitorCrd: false));
        var config = objects.OfType<V1ConfigMap>().Single().Data[DesiredState.ConfigKey];
        var args = objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "p-scheduler").Spec.Template.Spec.Containers[0].Args.ToList();
        var file = _dir.File("operator.json");
        File.WriteAllText(file, config);
        args[args.IndexOf("--config") + 1] = file;
        if (args.IndexOf("--worker-token-file") is var token and >= 0)
        {
            // The pod mounts the pool's worker-token Secret there; the sidecar reads it when it starts.
            args[token + 1] = _dir.File("worker-token");
            File.WriteAllText(args[token + 1], "token-of-the-pool\n");
        }

        if (args.IndexOf("--api-key-file") is var keys and >= 0)
        {
            // The pod mounts the pool's apiKeys Secret there: one key per line with its tenant.
            Assert.Equal(DesiredState.ApiKeysFile, args[keys + 1]);
            args[keys + 1] = _dir.File("api-keys");
            File.WriteAllText(args[keys + 1], "sk-team-a team-a\n");
        }

        Assert.Equal("scheduler", args[0]);
        return Scheduler([.. args.Skip(1)]);
    }
}
