using System.Text;
using System.Text.RegularExpressions;

namespace Laps.Monitoring.Tests;

/// <summary>Just enough PromQL text handling to run dashboard and alert expressions against a real Prometheus.</summary>
internal static partial class PromQl
{
    /// <summary>
    /// Replaces Grafana template variables (<c>$name</c>, <c>${name}</c>, <c>$__rate_interval</c>) with values;
    /// a variable without a value is an error, so a new one cannot slip through unexpanded.
    /// </summary>
    public static string Substitute(string expr, IReadOnlyDictionary<string, string> values) => Variable().Replace(expr, m =>
    {
        var name = m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["bare"].Value;
        return values.TryGetValue(name, out var value)
            ? value
            : throw new ArgumentException($"no value for template variable ${name} in: {expr}", nameof(values));
    });

    /// <summary>
    /// The parts of an alert expression whose result says whether the alert has data to judge: each operand of a
    /// top-level <c>and</c>/<c>or</c>/<c>unless</c>, without its trailing comparison with a number (the threshold).
    /// <c>A &gt; 0 unless B &gt; 0</c> gives <c>A</c> and <c>B</c>.
    /// </summary>
    public static IReadOnlyList<string> DataQueries(string alertExpr) =>
        [.. SplitSetOperators(alertExpr).Select(part => Threshold().Replace(VectorMatching().Replace(part, ""), "").Trim())];

    private static List<string> SplitSetOperators(string expr)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        var depth = 0;
        char? quote = null;
        for (var i = 0; i < expr.Length; i++)
        {
            var c = expr[i];
            if (quote is { } q)
            {
                current.Append(c);
                if (c == '\\' && i + 1 < expr.Length)
                {
                    current.Append(expr[++i]);
                }
                else if (c == q)
                {
                    quote = null;
                }

                continue;
            }

            switch (c)
            {
                case '"' or '\'' or '`':
                    quote = c;
                    break;
                case '(' or '[' or '{':
                    depth++;
                    break;
                case ')' or ']' or '}':
                    depth--;
                    break;
            }

            if (depth == 0 && SetOperator().Match(expr, i) is { Success: true } op && op.Index == i && (i == 0 || !IsWordChar(expr[i - 1])))
            {
                parts.Add(current.ToString().Trim());
                current.Clear();
                i += op.Length - 1;
                continue;
            }

            current.Append(c);
        }

        parts.Add(current.ToString().Trim());
        return parts;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    [GeneratedRegex(@"\$(?:\{(?<braced>\w+)\}|(?<bare>\w+))")]
    private static partial Regex Variable();

    [GeneratedRegex(@"\G(?:and|or|unless)\b")]
    private static partial Regex SetOperator();

    [GeneratedRegex(@"^(?:on|ignoring)\s*\([^)]*\)\s*")]
    private static partial Regex VectorMatching();

    [GeneratedRegex(@"\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")]
    private static partial Regex Threshold();
}
