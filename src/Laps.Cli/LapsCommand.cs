using System.CommandLine;
using System.CommandLine.Parsing;
using Laps.Cli.Commands;
using Microsoft.Extensions.Options;

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
    /// Parses and runs <paramref name="args"/>. A usage error, found while parsing or thrown by a command as
    /// <see cref="UsageException"/> (or by the sidecar's options validation), becomes one line on stderr,
    /// "laps sim: --load: '0.x' is not a number", and exit code 2, rather than a help dump or a stack trace.
    /// This is the one place that handles them.
    /// </summary>
    public int Invoke(IReadOnlyList<string> args, InvocationConfiguration? configuration = null)
    {
        configuration ??= new InvocationConfiguration();
        var parseResult = Parse(args);
        if (parseResult.Errors.Count > 0 && parseResult.Action is not { ClearsParseErrors: true })
        {
            return Usage(configuration, parseResult, parseResult.Errors.Select(e => e.Message));
        }

        configuration.EnableDefaultExceptionHandler = false;
        try
        {
            return parseResult.Invoke(configuration);
        }
        catch (Exception e) when (SimCommand.Unwrap(e) is UsageException usage)
        {
            return Usage(configuration, parseResult, [usage.Message]);
        }
        catch (OptionsValidationException e)
        {
            // Settings from appsettings.json or the environment that no option overrode.
            return Usage(configuration, parseResult, e.Failures);
        }
        catch (Exception e)
        {
            configuration.Error.WriteLine($"{CommandPath(parseResult.CommandResult)}: unexpected error: {e}");
            return 1;
        }
    }

    private static int Usage(InvocationConfiguration configuration, ParseResult parseResult, IEnumerable<string> messages)
    {
        var lines = messages.Select(m => OneLine(m).TrimEnd('.')).Distinct(StringComparer.Ordinal).ToList();
        if (parseResult.CommandResult.Command is { Subcommands.Count: > 0 } command && parseResult.UnmatchedTokens.Count > 0
            && !parseResult.CommandResult.Children.Any())
        {
            // "laps simulate": name what there is.
            lines.Add($"commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))} ({CommandPath(parseResult.CommandResult)} <command> --help)");
        }

        configuration.Error.WriteLine($"{CommandPath(parseResult.CommandResult)}: {string.Join("; ", lines)}");
        return ExitCodes.Usage;
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
