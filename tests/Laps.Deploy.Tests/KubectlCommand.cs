using System.Text;
using System.Text.RegularExpressions;

namespace Laps.Deploy.Tests;

/// <summary>
/// One <c>kubectl</c> command line as the docs write it, split into what names objects: the verb, the namespace, the
/// resources (<c>TYPE</c>, <c>TYPE/NAME</c>, <c>TYPE NAME</c>), the label selector, the files and the ports.
/// </summary>
public sealed partial record KubectlCommand(
    string Text,
    string Verb,
    string? Namespace,
    IReadOnlyList<string> Types,
    IReadOnlyList<(string Type, string Name)> Objects,
    string? Selector,
    IReadOnlyList<string> Files,
    string? Ports)
{
    // Flags that take a value, as separate word or after '='.
    private static readonly HashSet<string> ValueFlags = new(StringComparer.Ordinal)
    {
        "-n", "--namespace", "-l", "--selector", "-f", "--filename", "-o", "--output", "--replicas", "--tail",
        "-c", "--container", "--raw", "--since", "--field-selector", "--timeout", "--for",
    };

    // Verbs whose first argument is a resource type (or TYPE/NAME), followed by names.
    private static readonly HashSet<string> TypedVerbs = new(StringComparer.Ordinal)
    {
        "get", "describe", "delete", "edit", "scale", "label", "annotate", "patch", "wait",
    };

    // Verbs that take one TYPE/NAME (or a pod name), then other arguments.
    private static readonly HashSet<string> ObjectVerbs = new(StringComparer.Ordinal) { "logs", "port-forward", "exec", "attach" };

    public override string ToString() => Text;

    /// <summary>Parses the text after "kubectl" up to a comment, a pipe or a command separator.</summary>
    public static KubectlCommand Parse(string text)
    {
        var words = Words(text);
        if (words.Count == 0 || words[0] != "kubectl")
        {
            throw new FormatException($"not a kubectl command: {text}");
        }

        string? verb = null, ns = null, selector = null;
        var positional = new List<string>();
        var files = new List<string>();
        for (var i = 1; i < words.Count; i++)
        {
            var word = words[i];
            if (word.StartsWith('-'))
            {
                var (flag, value) = word.Split('=', 2) is [var f, var v] ? (f, v) : (word, null);
                if (flag == "-f" && verb == "logs")
                {
                    continue; // follow
                }

                if (value is null && ValueFlags.Contains(flag) && i + 1 < words.Count)
                {
                    value = words[++i];
                }

                switch (flag)
                {
                    case "-n" or "--namespace":
                        ns = value;
                        break;
                    case "-l" or "--selector":
                        selector = value;
                        break;
                    case "-f" or "--filename":
                        files.Add(value!);
                        break;
                }

                continue;
            }

            if (verb is null)
            {
                verb = word;
            }
            else
            {
                positional.Add(word);
            }
        }

        verb ??= "";
        var types = new List<string>();
        var objects = new List<(string, string)>();
        string? ports = null;
        if (verb == "rollout" && positional.Count > 0)
        {
            positional.RemoveAt(0); // rollout status|restart|undo TYPE/NAME
            Typed(positional);
        }
        else if (TypedVerbs.Contains(verb))
        {
            Typed(positional);
        }
        else if (ObjectVerbs.Contains(verb) && positional.Count > 0)
        {
            var target = positional[0];
            objects.Add(target.Split('/', 2) is [var type, var name] ? (type, name) : ("pod", target));
            types.Add(objects[0].Item1);
            ports = verb == "port-forward" ? positional.Skip(1).FirstOrDefault() : null;
        }

        return new KubectlCommand(text, verb, ns, types, objects, selector, files, ports);

        void Typed(List<string> args)
        {
            if (args.Count == 0)
            {
                return;
            }

            if (args.All(a => a.Contains('/', StringComparison.Ordinal)))
            {
                foreach (var arg in args)
                {
                    var (type, name) = arg.Split('/', 2) is [var t, var n] ? (t, n) : (arg, "");
                    types.Add(type);
                    objects.Add((type, name));
                }

                return;
            }

            types.AddRange(args[0].Split(',', StringSplitOptions.RemoveEmptyEntries));
            objects.AddRange(args.Skip(1).SelectMany(name => types.Select(type => (type, name))));
        }
    }

    /// <summary>Shell-like words: whitespace-separated, quotes kept together and removed; stops at #, |, ;, &amp;&amp; and &gt;.</summary>
    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        char? quote = null;
        var inWord = false;
        foreach (var c in text)
        {
            if (quote is { } q)
            {
                if (c == q)
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                Flush();
                continue;
            }

            if (!inWord && c is '#' or '|' or ';' or '&' or '>')
            {
                break;
            }

            current.Append(c);
            inWord = true;
        }

        Flush();
        return words;

        void Flush()
        {
            if (inWord)
            {
                words.Add(current.ToString());
                current.Clear();
                inWord = false;
            }
        }
    }

    /// <summary>
    /// Every kubectl command in a Markdown file: the lines of fenced code blocks that start with <c>kubectl</c> (a
    /// trailing backslash continues them) and the inline code spans that do.
    /// </summary>
    public static IEnumerable<string> InMarkdown(string markdown)
    {
        var inFence = false;
        var lines = markdown.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }

            if (inFence)
            {
                var command = line.Trim().TrimStart('$').TrimStart();
                while (command.EndsWith('\\') && i + 1 < lines.Length)
                {
                    command = command[..^1] + " " + lines[++i].Trim();
                }

                if (command.StartsWith("kubectl ", StringComparison.Ordinal))
                {
                    yield return command;
                }

                continue;
            }

            foreach (Match span in InlineCode().Matches(line))
            {
                yield return span.Groups[1].Value;
            }
        }
    }

    /// <summary>The lines of a plain text (Helm's rendered NOTES.txt) that are kubectl commands.</summary>
    public static IEnumerable<string> InText(string text)
        => text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("kubectl ", StringComparison.Ordinal));

    [GeneratedRegex(@"`(kubectl [^`]+)`")]
    private static partial Regex InlineCode();
}
