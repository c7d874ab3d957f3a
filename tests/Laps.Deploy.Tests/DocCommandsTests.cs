using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Laps.Deploy.Tests;

/// <summary>
/// The docs' kubectl commands name what is there: every object name, label selector and file of every kubectl command
/// in README.md, docs/*.md, the chart's README and its install notes resolves against the rendered chart (commands
/// in the release namespace, laps-system) or the example pools (every other namespace: the objects the operator
/// creates for examples/inferencepool-*.yaml, and the autoscaler example). <c>P</c> and <c>&lt;pool&gt;</c> in the
/// docs and <c>demo</c> in the install notes stand for the CPU example, chat-sim. Every command names InferencePools
/// <c>inferencepools.laps.dev</c>: the Gateway API Inference Extension serves a kind of the same plural
/// (docs/inferencepool.md).
/// </summary>
public sealed partial class DocCommandsTests
{
    private const string Qualified = "inferencepools.laps.dev";

    private static readonly Dictionary<string, string> Kinds = new(StringComparer.Ordinal)
    {
        ["deploy"] = "Deployment", ["deployment"] = "Deployment", ["deployments"] = "Deployment",
        ["svc"] = "Service", ["service"] = "Service", ["services"] = "Service",
        ["po"] = "Pod", ["pod"] = "Pod", ["pods"] = "Pod",
        ["cm"] = "ConfigMap", ["configmap"] = "ConfigMap", ["configmaps"] = "ConfigMap",
        ["sa"] = "ServiceAccount", ["serviceaccount"] = "ServiceAccount", ["serviceaccounts"] = "ServiceAccount",
        ["lease"] = "Lease", ["leases"] = "Lease",
        ["endpointslice"] = "EndpointSlice", ["endpointslices"] = "EndpointSlice",
        ["pdb"] = "PodDisruptionBudget", ["poddisruptionbudget"] = "PodDisruptionBudget", ["poddisruptionbudgets"] = "PodDisruptionBudget",
        ["role"] = "Role", ["roles"] = "Role", ["rolebinding"] = "RoleBinding", ["rolebindings"] = "RoleBinding",
        ["servicemonitor"] = "ServiceMonitor", ["servicemonitors"] = "ServiceMonitor",
        ["hpa"] = "HorizontalPodAutoscaler", ["horizontalpodautoscaler"] = "HorizontalPodAutoscaler", ["horizontalpodautoscalers"] = "HorizontalPodAutoscaler",
        [Qualified] = "InferencePool", ["ipool"] = "InferencePool", ["inferencepool"] = "InferencePool", ["inferencepools"] = "InferencePool",
    };

    public static TheoryData<string, string> Commands
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var (source, command) in AllCommands.Value)
            {
                data.Add(source, command);
            }

            return data;
        }
    }

    private static readonly Lazy<List<(string Source, string Command)>> AllCommands = new(() =>
    {
        var markdown = new[] { "README.md", Path.Combine("charts", "laps", "README.md") }
            .Concat(Directory.GetFiles(Tools.InRepo("docs"), "*.md").Select(f => Path.GetRelativePath(Tools.RepoRoot, f)))
            .Order(StringComparer.Ordinal);
        var commands = markdown
            .SelectMany(file => KubectlCommand.InMarkdown(File.ReadAllText(Tools.InRepo(file))).Select(c => (file.Replace('\\', '/'), Placeholders(c))))
            .Concat(KubectlCommand.InText(RenderedNotes()).Select(c => ("charts/laps/templates/NOTES.txt", Placeholders(c).Replace(" demo", $" {Pools.ExampleName}", StringComparison.Ordinal))));
        return [.. commands.Distinct()];
    });

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_command_names_objects_labels_and_files_that_the_chart_or_the_example_pool_renders(string source, string command)
    {
        var problems = Problems(KubectlCommand.Parse(command));

        Assert.True(problems.Count == 0, $"{source}: {command}\n  {string.Join("\n  ", problems)}");
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void The_command_names_InferencePools_by_their_qualified_name(string source, string command)
    {
        var types = KubectlCommand.Parse(command).Types;

        Assert.True(
            types.All(t => t == Qualified || !Kinds.TryGetValue(t, out var kind) || kind != "InferencePool"),
            $"{source}: {command}\n  names InferencePools '{string.Join(",", types)}': write {Qualified}, which no other CRD can take");
    }

    [Fact]
    public void The_docs_hold_the_commands_the_runbook_and_the_install_notes_rely_on()
    {
        var commands = AllCommands.Value;

        Assert.True(commands.Count >= 25, $"only {commands.Count} kubectl commands found");
        Assert.Contains(commands, c => c.Source == "docs/operations.md" && c.Command.Contains("logs deploy/laps ", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Source == "docs/operations.md" && c.Command.Contains("-l laps.dev/pool=chat-sim", StringComparison.Ordinal));
        Assert.Contains(commands, c => c.Source == "charts/laps/templates/NOTES.txt" && c.Command.Contains($"get {Qualified} chat-sim", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("kubectl -n laps-system logs deploy/laps-operator", "no Deployment laps-operator")]
    [InlineData("kubectl -n laps-system get pods -l app.kubernetes.io/name=laps-operator", "selects no Pod")]
    [InlineData("kubectl -n NS logs deploy/laps", "no Deployment laps")]
    [InlineData("kubectl -n NS get endpointslices -l kubernetes.io/service-name=chat-sim-worker", "selects no EndpointSlice")]
    [InlineData("kubectl -n NS port-forward svc/chat-sim-scheduler 8080:8080", "has no port 8080")]
    [InlineData("kubectl -n laps-system get lease laps", "no Lease laps")]
    [InlineData("kubectl -n NS get inferencepools.laps.dev chat", "no InferencePool chat")]
    [InlineData("kubectl apply -f examples/no-such-pool.yaml", "no file or folder examples/no-such-pool.yaml")]
    [InlineData("kubectl get widgets", "unknown resource type widgets")]
    public void A_name_label_or_file_that_is_not_there_is_reported(string command, string problem)
        => Assert.Contains(Problems(KubectlCommand.Parse(command)), p => p.Contains(problem, StringComparison.Ordinal));

    [Theory]
    [InlineData("kubectl -n NS get pods -l 'app.kubernetes.io/component=worker,laps.dev/pool=P' -o wide # workers", "get", "NS", "pods", "app.kubernetes.io/component=worker,laps.dev/pool=P")]
    [InlineData("kubectl logs --tail=200 -n laps-system deploy/laps | grep error", "logs", "laps-system", "deploy", null)]
    [InlineData("kubectl -n x get deploy,pods -l a=b", "get", "x", "deploy,pods", "a=b")]
    [InlineData("kubectl -n x logs -f deploy/y", "logs", "x", "deploy", null)]
    public void Commands_split_into_verb_namespace_types_and_selector(string text, string verb, string ns, string types, string? selector)
    {
        var command = KubectlCommand.Parse(text);

        Assert.Equal((verb, ns, types, selector), (command.Verb, command.Namespace, string.Join(",", command.Types), command.Selector));
    }

    [Fact]
    public void Markdown_commands_come_from_code_blocks_continued_lines_and_inline_code()
    {
        const string markdown = "Run `kubectl get pods` first.\n\n```bash\nhelm install x\nkubectl -n a \\\n  get svc # comment\n```\n";

        Assert.Equal(["kubectl get pods", "kubectl -n a  get svc # comment"], KubectlCommand.InMarkdown(markdown));
    }

    /// <summary>
    /// The RBAC tables in docs/inferencepool.md and the chart's README list exactly the rights the chart grants the
    /// operator: its ClusterRole (all namespaces) and its leader-election Role.
    /// </summary>
    [Theory]
    [InlineData("docs/inferencepool.md")]
    [InlineData("charts/laps/README.md")]
    public void The_rbac_table_lists_exactly_what_the_chart_grants(string file)
    {
        var rendered = Chart.Get(Chart.Default);
        var granted = new[] { rendered.Find("ClusterRole", Rendered.Release), rendered.Find("Role", $"{Rendered.Release}-leader-election") }
            .SelectMany(role => role["rules"]!.AsArray())
            .SelectMany(rule =>
                from g in rule!["apiGroups"]!.AsArray()
                from r in rule["resources"]!.AsArray()
                from v in rule["verbs"]!.AsArray()
                select $"{(string?)g}|{(string?)r}|{(string?)v}")
            .ToHashSet(StringComparer.Ordinal);

        var documented = RbacTable(File.ReadAllText(Tools.InRepo(file.Split('/'))));

        Assert.Equal(granted.Order(StringComparer.Ordinal), documented.Order(StringComparer.Ordinal));
    }

    /// <summary>What is wrong with the command's names, selectors, ports and files, if anything.</summary>
    private static List<string> Problems(KubectlCommand command)
    {
        var chart = command.Namespace == Rendered.Namespace;
        var universe = chart ? Chart.Get(Chart.Default) : Pools.Examples;
        var where = chart ? $"the chart (release {Rendered.Release} in {Rendered.Namespace})" : "the example pools";
        var problems = new List<string>();

        foreach (var file in command.Files.Where(f => f.Contains('/', StringComparison.Ordinal)))
        {
            if (!File.Exists(Tools.InRepo(file)) && !Directory.Exists(Tools.InRepo(file)))
            {
                problems.Add($"no file or folder {file} in the repository");
            }
        }

        var kinds = new List<string>();
        foreach (var type in command.Types)
        {
            if (Kinds.TryGetValue(type, out var kind))
            {
                kinds.Add(kind);
            }
            else
            {
                problems.Add($"unknown resource type {type}");
            }
        }

        foreach (var (type, name) in command.Objects)
        {
            if (Kinds.TryGetValue(type, out var kind) && !Exists(universe, kind, name))
            {
                problems.Add($"no {kind} {name} in {where}");
            }
        }

        if (command.Selector is { } selector)
        {
            foreach (var kind in kinds.Distinct())
            {
                if (!Selectable(universe, kind).Any(labels => Matches(selector, labels)))
                {
                    problems.Add($"-l {selector} selects no {kind} of {where}");
                }
            }
        }

        if (command.Ports is { } ports && command.Objects is [var (t, n)] && Kinds.GetValueOrDefault(t) == "Service"
            && universe.Documents.FirstOrDefault(d => (string?)d["kind"] == "Service" && (string?)d["metadata"]!["name"] == n) is { } service)
        {
            var remote = ports.Split(':')[^1];
            if (!service["spec"]!["ports"]!.AsArray().Any(p => (string?)p!["port"] == remote))
            {
                problems.Add($"Service {n} has no port {remote}");
            }
        }

        return problems;
    }

    private static bool Exists(Rendered universe, string kind, string name) => kind switch
    {
        // Pods and EndpointSlices are named by their controllers: the docs select them by label.
        "Pod" or "EndpointSlice" => false,
        // Leases are created at run time under the name a container is given.
        "Lease" => Containers(universe).Any(c => c["args"]?.AsArray().Select(a => (string?)a).ToList() is { } args
            && args.IndexOf("--lease-name") is var i and >= 0 && i + 1 < args.Count && args[i + 1] == name),
        _ => universe.Documents.Any(d => (string?)d["kind"] == kind && (string?)d["metadata"]!["name"] == name),
    };

    /// <summary>The label sets a selector of <paramref name="kind"/> is matched against.</summary>
    private static IEnumerable<JsonObject> Selectable(Rendered universe, string kind) => kind switch
    {
        "Pod" => universe.OfKind("Deployment").Select(d => d["spec"]!["template"]!["metadata"]!["labels"]!.AsObject()),
        // The EndpointSlice controller labels a Service's slices with its name and copies its labels.
        "EndpointSlice" => universe.OfKind("Service").Select(s =>
        {
            var labels = s["metadata"]!["labels"]?.DeepClone().AsObject() ?? [];
            labels["kubernetes.io/service-name"] = (string?)s["metadata"]!["name"];
            return labels;
        }),
        _ => universe.OfKind(kind).Select(d => d["metadata"]!["labels"]?.AsObject() ?? []),
    };

    private static IEnumerable<JsonObject> Containers(Rendered universe)
        => universe.OfKind("Deployment").SelectMany(d => d["spec"]!["template"]!["spec"]!["containers"]!.AsArray()).Select(c => c!.AsObject());

    /// <summary>An equality-based selector (<c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k</c>, <c>!k</c>, comma-separated).</summary>
    private static bool Matches(string selector, JsonObject labels) => selector.Split(',').All(term =>
    {
        var m = Term().Match(term.Trim());
        Assert.True(m.Success, $"unsupported selector term '{term}'");
        var key = m.Groups["key"].Value;
        var value = labels.TryGetPropertyValue(key, out var v) ? (string?)v : null;
        return m.Groups["op"].Value switch
        {
            "" => m.Groups["not"].Success ? value is null : value is not null,
            "!=" => value != m.Groups["value"].Value,
            _ => value == m.Groups["value"].Value,
        };
    });

    /// <summary>(apiGroup|resource|verb) of every row of the file's RBAC table (the table whose rows start with an API group).</summary>
    private static List<string> RbacTable(string markdown)
    {
        var rows = markdown.Split('\n')
            .SkipWhile(l => !RbacHeader().IsMatch(l)).Skip(2)
            .TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray())
            .ToList();
        Assert.True(rows.Count > 0, "no RBAC table (a header row starting with '| apiGroups |' or '| API group |')");
        return
        [
            .. from row in rows
               from g in row[0].Split(',').Select(x => x.Trim().Trim('`'))
               from r in Code().Matches(row[1]).Select(m => m.Groups[1].Value)
               from v in row[2].Split('(')[0].Split(',').Select(x => x.Trim()).Where(x => x.Length > 0)
               select $"{(g is "\"\"" or "core" ? "" : g)}|{r}|{v}",
        ];
    }

    private static string Placeholders(string command) => Placeholder().Replace(command, Pools.ExampleName);

    /// <summary>NOTES.txt as `helm install` prints it (offline: --dry-run=client).</summary>
    private static string RenderedNotes()
    {
        var result = Tools.RunHelm("install", Rendered.Release, Chart.Dir, "--namespace", Rendered.Namespace, "--dry-run=client");
        Assert.True(result.ExitCode == 0, result.Output);
        var start = result.Stdout.IndexOf("NOTES:", StringComparison.Ordinal);
        Assert.True(start >= 0, result.Stdout);
        return result.Stdout[start..];
    }

    [GeneratedRegex(@"<pool>|(?<![\w.])P(?!\w)")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^(?<not>!)?(?<key>[\w./-]+)(?:(?<op>==|!=|=)(?<value>[\w.-]*))?$")]
    private static partial Regex Term();

    [GeneratedRegex(@"^\|\s*(apiGroups|API group)\s*\|")]
    private static partial Regex RbacHeader();

    [GeneratedRegex(@"`([a-z./]+)`")]
    private static partial Regex Code();
}
