using System.CommandLine;
using System.CommandLine.Parsing;
using Laps.Cli.Commands;

namespace Laps.Cli;

/// <summary>The <c>laps</c> program: one root, one subcommand per role (docs/cli.md).</summary>
internal sealed class LapsCommand : RootCommand
{
    public LapsCommand(ExperimentExecutor? executor = null, SchedulerRunner? schedulerRunner = null, OperatorRunner? operatorRunner = null,
        Func<string, string?>? environment = null)
        : base("Laps: LAPS-SD scheduling for speculative-decoding LLM serving.")
    {
        Sim = new SimCommand(executor ?? SimCommand.RunExperiment);
        Subcommands.Add(Sim);
        Worker = new WorkerCommand();
        Subcommands.Add(Worker);
        Subcommands.Add(new EmulateCommand());
        Scheduler = new SchedulerCommand(schedulerRunner);
        Subcommands.Add(Scheduler);
        Subcommands.Add(new UpCommand());
        Subcommands.Add(new BenchCommand());
        Operator = new OperatorCommand(operatorRunner, environment);
        Subcommands.Add(Operator);
    }

    public OperatorCommand Operator { get; }

    public SimCommand Sim { get; }
    public SchedulerCommand Scheduler { get; }
    public WorkerCommand Worker { get; }

    /// <summary>
    /// Parses and runs <paramref name="args"/>. A parse error becomes one line on stderr and exit code 2,
    /// rather than System.CommandLine's usual help dump and exit code 1.
    /// </summary>
    public int Invoke(IReadOnlyList<string> args, InvocationConfiguration? configuration = null)
    {
        configuration ??= new InvocationConfiguration();
        var parseResult = Parse(args);
        if (parseResult.Errors.Count > 0 && parseResult.Action is not { ClearsParseErrors: true })
        {
            // Every error, on one line: "laps sim: --load: '0.x' is not a number".
            var messages = parseResult.Errors.Select(e => OneLine(e.Message).TrimEnd('.')).Distinct(StringComparer.Ordinal);
            configuration.Error.WriteLine($"{CommandPath(parseResult.CommandResult)}: {string.Join("; ", messages)}");
            return ExitCodes.Usage;
        }

        return parseResult.Invoke(configuration);
    }

    /// <summary>"laps", "laps sim": the prefix of every error line.</summary>
    internal static string CommandPath(CommandResult? result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult command)
            {
                names.Add(command.Command is RootCommand ? "laps" : command.Command.Name);
            }
        }

        names.Reverse();
        return names.Count == 0 ? "laps" : string.Join(' ', names);
    }

    internal static string OneLine(string message)
        => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
