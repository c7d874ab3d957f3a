using Laps.Scheduling.Estimation;
using Laps.Scheduling.Policies;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Laps.Cli.Commands;

/// <summary>
/// Parsers for option values. Each throws <see cref="UsageException"/> with a message that names the option and
/// the offending value; <see cref="Option{T}"/>s built here turn that into a parse error.
/// </summary>
internal static class OptionValues
{
    /// <summary>The choice tables the commands share, by the name users type.</summary>
    public static readonly IReadOnlyDictionary<string, ProposerKind> Proposers = new Dictionary<string, ProposerKind>(StringComparer.OrdinalIgnoreCase)
    {
        ["eagle"] = ProposerKind.Eagle,
        ["ngram"] = ProposerKind.Ngram,
        ["draft"] = ProposerKind.DraftModel,
    };

    public static double Number(string option, string token)
        => double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new UsageException($"{option}: '{token}' is not a number");

    public static int Integer(string option, string token)
        => int.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new UsageException($"{option}: '{token}' is not an integer");

    public static long LongInteger(string option, string token)
        => long.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new UsageException($"{option}: '{token}' is not an integer");

    /// <summary>The predictor's Kendall τ, or <c>oracle</c> (null: perfect predictions).</summary>
    public static double? TauOrOracle(string option, string token)
        => IsOneOf(token, "oracle") ? null : Number(option, token);

    public static T Choice<T>(string option, string token, IReadOnlyDictionary<string, T> choices)
        => choices.TryGetValue(token.Trim(), out var value)
            ? value
            : throw new UsageException($"{option}: unknown value '{token}'; expected {string.Join(", ", choices.Keys)}");

    /// <summary>The key of <paramref name="choices"/> that <paramref name="token"/> names, as the dictionary spells it.</summary>
    public static string Key<T>(string option, string token, IReadOnlyDictionary<string, T> choices)
    {
        Choice(option, token, choices);
        return choices.Keys.First(k => string.Equals(k, token.Trim(), StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Comma-separated items (the option may also repeat); an item may not appear twice.</summary>
    public static IReadOnlyList<T> List<T>(string option, IEnumerable<string> tokens, Func<string, string, T> parseItem)
    {
        var items = new List<T>();
        foreach (var token in tokens)
        {
            foreach (var item in token.Split(','))
            {
                var value = parseItem(option, item.Trim());
                if (items.Contains(value))
                {
                    throw new UsageException($"{option}: '{item.Trim()}' is listed twice");
                }

                items.Add(value);
            }
        }

        return items;
    }

    /// <summary>An option whose single value goes through <paramref name="parse"/>.</summary>
    public static Option<T> Scalar<T>(string name, string description, Func<string, string, T> parse, Func<T> defaultValue, string? helpName = null)
    {
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue(), HelpName = helpName };
        option.CustomParser = result => Guarded(result, defaultValue, tokens => parse(name, tokens[^1]));
        return option;
    }

    /// <summary>
    /// One of <paramref name="choices"/>' keys. The option's value is the key itself, so help shows the words a user
    /// types (an enum-typed option would show its member names); <see cref="Choice{T}"/> maps it afterwards.
    /// </summary>
    public static Option<string> ChoiceOption<T>(string name, string description, IReadOnlyDictionary<string, T> choices, string? defaultKey)
    {
        var option = new Option<string>(name) { Description = description, HelpName = string.Join('|', choices.Keys) };
        if (defaultKey is not null)
        {
            option.DefaultValueFactory = _ => defaultKey;
        }

        option.CustomParser = result => Guarded(result, () => defaultKey, tokens => Key(name, tokens[^1], choices));
        return option;
    }

    /// <summary>An optional knob: null when absent, so the library's default stays in force.</summary>
    public static Option<T?> Knob<T>(string name, string description, Func<string, string, T> parse, string? helpName = null)
        where T : struct
    {
        var option = new Option<T?>(name) { Description = description, HelpName = helpName };
        option.CustomParser = result => Guarded<T?>(result, () => null, tokens => parse(name, tokens[^1]));
        return option;
    }

    /// <summary>
    /// The option of a <see cref="SchedulerKnob"/>, named, typed and described by the table. Its default is the
    /// knob's, which help shows once; <see cref="GivenKnob"/> reads what the command line gave.
    /// </summary>
    public static Option<string> KnobOption(SchedulerKnob knob)
    {
        var option = new Option<string>(knob.Option)
        {
            Description = knob.Paper is { } paper ? $"{knob.Help} (paper: {paper})" : knob.Help,
            HelpName = knob.Type switch
            {
                KnobType.WholeNumber => "n",
                KnobType.Number => "x",
                _ => string.Join('|', knob.Choices),
            },
            Arity = knob.Type == KnobType.Switch ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne,
            DefaultValueFactory = _ => knob.Default,
        };
        option.CustomParser = result =>
        {
            if (result.Tokens.Count == 0)
            {
                return knob.Default;
            }

            var word = result.Tokens[^1].Value;
            try
            {
                knob.ToConfig(word);
                return word;
            }
            catch (FormatException e)
            {
                result.AddError($"{knob.Option}: {e.Message}");
                return null;
            }
        };
        return option;
    }

    /// <summary>Whether <paramref name="option"/> was on the command line (not just its default).</summary>
    public static bool Given(ParseResult parseResult, Option option) => parseResult.GetResult(option) is { Implicit: false };

    /// <summary>The value given to a <see cref="KnobOption"/> (a switch given alone is <c>on</c>), or null when it was not given.</summary>
    public static string? GivenKnob(ParseResult parseResult, Option<string> option) => parseResult.GetResult(option) switch
    {
        { Implicit: false, Tokens.Count: 0 } => "on",
        { Implicit: false } => parseResult.GetValue(option),
        _ => null,
    };

    /// <summary>A list option: <c>--name a,b,c</c>, or the option repeated.</summary>
    public static Option<IReadOnlyList<T>> ListOption<T>(string name, string description, Func<string, string, T> parseItem, Func<IReadOnlyList<T>> defaultValue, string? helpName = null)
    {
        var option = new Option<IReadOnlyList<T>>(name)
        {
            Description = description,
            HelpName = helpName,
            Arity = ArgumentArity.OneOrMore,
            DefaultValueFactory = _ => defaultValue(),
        };
        option.CustomParser = result => Guarded(result, defaultValue, tokens => List(name, tokens, parseItem));
        return option;
    }

    private static T? Guarded<T>(ArgumentResult result, Func<T> defaultValue, Func<string[], T> parse)
    {
        var tokens = result.Tokens.Select(t => t.Value).ToArray();
        if (tokens.Length == 0)
        {
            return defaultValue();
        }

        try
        {
            return parse(tokens);
        }
        catch (UsageException e)
        {
            result.AddError(e.Message);
            return default;
        }
    }

    private static bool IsOneOf(string token, params string[] words)
        => words.Contains(token.Trim(), StringComparer.OrdinalIgnoreCase);
}
