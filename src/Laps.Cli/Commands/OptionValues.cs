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

    public static readonly IReadOnlyDictionary<string, LapsVariant> Variants = new Dictionary<string, LapsVariant>(StringComparer.OrdinalIgnoreCase)
    {
        ["paper"] = LapsVariant.Paper,
        ["perceived"] = LapsVariant.Perceived,
    };

    public static readonly IReadOnlyDictionary<string, RemainingEstimate> Estimates = new Dictionary<string, RemainingEstimate>(StringComparer.OrdinalIgnoreCase)
    {
        ["point"] = RemainingEstimate.Point,
        ["posterior"] = RemainingEstimate.Posterior,
        ["gittins"] = RemainingEstimate.Gittins,
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

    /// <summary>A number, or <c>inf</c>/<c>infinity</c> for +∞.</summary>
    public static double NumberOrInfinity(string option, string token)
        => IsOneOf(token, "inf", "infinity", "+inf", "∞") ? double.PositiveInfinity : Number(option, token);

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
