using System.Globalization;

namespace Laps.Simulation.Arrivals;

public enum ArrivalKind
{
    Poisson,
    Gamma,

    /// <summary>An Azure-format CSV trace, rescaled to the target rate.</summary>
    Trace,
}

/// <summary>A parsed <c>--arrivals</c> value: <c>poisson</c>, <c>gamma:&lt;cv&gt;</c> or a CSV trace path.</summary>
/// <param name="Text">The spec as given.</param>
/// <param name="Kind">Which process.</param>
/// <param name="Cv">The coefficient of variation for <see cref="ArrivalKind.Gamma"/>.</param>
/// <param name="Path">The CSV path as given, for <see cref="ArrivalKind.Trace"/>.</param>
public sealed record ArrivalSpec(string Text, ArrivalKind Kind, double? Cv = null, string? Path = null)
{
    /// <summary>Parses a spec; throws <see cref="ArrivalFormatException"/> with what was expected.</summary>
    public static ArrivalSpec Parse(string spec)
    {
        const string Expected = "expected 'poisson', 'gamma:<cv>' (e.g. gamma:2) or the path of an Azure-format CSV trace";
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new ArrivalFormatException("arrival spec is empty; " + Expected);
        }

        var text = spec.Trim();
        if (string.Equals(text, "poisson", StringComparison.OrdinalIgnoreCase))
        {
            return new ArrivalSpec(text, ArrivalKind.Poisson);
        }

        if (text.StartsWith("gamma", StringComparison.OrdinalIgnoreCase) && !File.Exists(text))
        {
            var rest = text[5..].Trim();
            if (!rest.StartsWith(':'))
            {
                throw new ArrivalFormatException($"arrival spec '{text}': gamma needs a coefficient of variation, e.g. gamma:2");
            }

            var cvText = rest[1..].Trim();
            if (!double.TryParse(cvText, NumberStyles.Float, CultureInfo.InvariantCulture, out var cv) || !double.IsFinite(cv))
            {
                throw new ArrivalFormatException($"arrival spec '{text}': '{cvText}' is not a number (gamma:<cv>, e.g. gamma:2)");
            }

            if (!(cv > 0))
            {
                throw new ArrivalFormatException($"arrival spec '{text}': the coefficient of variation must be > 0");
            }

            return new ArrivalSpec(text, ArrivalKind.Gamma, Cv: cv);
        }

        if (File.Exists(text))
        {
            return new ArrivalSpec(text, ArrivalKind.Trace, Path: text);
        }

        if (text.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArrivalFormatException(text, null, "arrival trace file not found");
        }

        throw new ArrivalFormatException($"unknown arrival spec '{text}'; " + Expected);
    }

    /// <summary>The process this spec names (a trace is loaded, and cached, here).</summary>
    public IArrivalProcess CreateProcess() => Kind switch
    {
        ArrivalKind.Poisson => PoissonArrivals.Instance,
        ArrivalKind.Gamma => new GammaArrivals(Cv!.Value),
        ArrivalKind.Trace => TraceArrivals.Load(Path!),
        _ => throw new InvalidOperationException($"unknown arrival kind {Kind}"),
    };

    public override string ToString() => Text;
}
