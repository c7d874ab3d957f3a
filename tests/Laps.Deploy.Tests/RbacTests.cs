using System.Text.Json.Nodes;

namespace Laps.Deploy.Tests;

/// <summary>
/// The operator holds exactly the rights its work needs, no more: the brief's list, spelled out here as
/// (apiGroup, resource, verb) triples so that any added or dropped right fails a test.
/// </summary>
public class RbacTests
{
    private static readonly string[] Crud = ["get", "list", "watch", "create", "update", "patch", "delete"];

    private static readonly string[] OperatorRights =
    [
        .. Triples("laps.dev", ["inferencepools"], ["get", "list", "watch", "update", "patch"]),
        .. Triples("laps.dev", ["inferencepools/status"], ["get", "update", "patch"]),
        .. Triples("laps.dev", ["inferencepools/finalizers"], ["update"]),
        .. Triples("apps", ["deployments"], Crud),
        .. Triples("", ["services", "configmaps", "serviceaccounts"], Crud),
        // Each pool's worker token: made once, replaced only to restore its labels, deleted by the garbage collector.
        .. Triples("", ["secrets"], ["get", "list", "watch", "create", "update"]),
        .. Triples("policy", ["poddisruptionbudgets"], Crud),
        .. Triples("networking.k8s.io", ["networkpolicies"], Crud),
        .. Triples("rbac.authorization.k8s.io", ["roles", "rolebindings"], Crud),
        // The operator grants these to each pool's scheduler, and Kubernetes lets it grant only what it holds.
        .. Triples("discovery.k8s.io", ["endpointslices"], ["get", "list", "watch"]),
        // Read only: the worker pods' container states (Degraded WorkersFailing).
        .. Triples("", ["pods"], ["get", "list", "watch"]),
        .. Triples("coordination.k8s.io", ["leases"], ["get", "create", "update"]),
        .. Triples("monitoring.coreos.com", ["servicemonitors"], Crud),
        .. Triples("", ["events"], ["create", "patch"]),
        .. Triples("events.k8s.io", ["events"], ["create", "patch"]),
    ];

    private static readonly string[] CrdRights = [.. Triples("apiextensions.k8s.io", ["customresourcedefinitions"], ["get", "list", "watch"])];

    private static readonly Rendered Defaults = Chart.Get(Chart.Default);
    private static readonly Rendered Namespaced = Chart.Get(Chart.AllFeatures); // watchNamespace: inference

    [Fact]
    public void Watching_all_namespaces_the_ClusterRole_grants_exactly_the_operators_rights_and_crd_reads()
    {
        var clusterRole = Defaults.Find("ClusterRole", Rendered.Release);

        Assert.Equal(Sorted([.. OperatorRights, .. CrdRights]), Rights(clusterRole));
        Assert.DoesNotContain(Defaults.OfKind("Role"), r => (string?)r["metadata"]!["name"] == Rendered.Release);
    }

    [Fact]
    public void Watching_one_namespace_the_rights_are_a_Role_there_and_only_crd_reads_stay_cluster_wide()
    {
        var role = Namespaced.Find("Role", Rendered.Release);
        var clusterRole = Namespaced.Find("ClusterRole", Rendered.Release);

        Assert.Equal("inference", (string?)role["metadata"]!["namespace"]);
        Assert.Equal(Sorted(OperatorRights), Rights(role));
        Assert.Equal(Sorted(CrdRights), Rights(clusterRole));
    }

    [Theory]
    [InlineData(Chart.Default, "ClusterRoleBinding", "ClusterRole", null)]
    [InlineData(Chart.AllFeatures, "ClusterRoleBinding", "ClusterRole", null)]
    [InlineData(Chart.AllFeatures, "RoleBinding", "Role", "inference")]
    public void Bindings_give_the_operators_role_to_its_service_account(string values, string bindingKind, string roleKind, string? ns)
    {
        var binding = Chart.Get(values).Find(bindingKind, Rendered.Release);

        Assert.Equal(ns, (string?)binding["metadata"]!["namespace"]);
        Assert.Equal(roleKind, (string?)binding["roleRef"]!["kind"]);
        Assert.Equal(Rendered.Release, (string?)binding["roleRef"]!["name"]);
        var subject = Assert.Single(binding["subjects"]!.AsArray())!;
        Assert.Equal("ServiceAccount", (string?)subject["kind"]);
        Assert.Equal(Rendered.Release, (string?)subject["name"]);
        Assert.Equal(Rendered.Namespace, (string?)subject["namespace"]);
    }

    [Fact]
    public void The_leader_election_Role_in_the_release_namespace_gets_and_updates_only_the_operators_Lease()
    {
        var role = Defaults.Find("Role", $"{Rendered.Release}-leader-election");
        var binding = Defaults.Find("RoleBinding", $"{Rendered.Release}-leader-election");
        var rules = role["rules"]!.AsArray().Select(r => r!.AsObject()).ToList();

        Assert.Equal(Rendered.Namespace, (string?)role["metadata"]!["namespace"]);
        Assert.Equal(Sorted(Triples("coordination.k8s.io", ["leases"], ["get", "create", "update"])), Rights(role));
        var named = Assert.Single(rules, r => r["resourceNames"] is not null);
        Assert.Equal(["laps-operator"], named["resourceNames"]!.AsArray().Select(n => (string?)n));
        Assert.Equal(["get", "update"], named["verbs"]!.AsArray().Select(v => (string?)v));
        Assert.Equal(["create"], Assert.Single(rules, r => r["resourceNames"] is null)["verbs"]!.AsArray().Select(v => (string?)v));
        Assert.Equal($"{Rendered.Release}-leader-election", (string?)binding["roleRef"]!["name"]);
    }

    [Fact]
    public void The_leader_election_Role_names_the_Lease_the_operator_is_told_to_use()
    {
        var rendered = Chart.Render("--set", "operator.leaderElection.leaseName=ops-lease");
        var args = rendered.OperatorContainer["args"]!.AsArray().Select(a => (string?)a).ToList();
        var named = rendered.Find("Role", $"{Rendered.Release}-leader-election")["rules"]!.AsArray().Single(r => r!["resourceNames"] is not null)!;

        Assert.Equal("ops-lease", args[args.IndexOf("--lease-name") + 1]);
        Assert.Equal(["ops-lease"], named["resourceNames"]!.AsArray().Select(n => (string?)n));
    }

    [Fact]
    public void Without_leader_election_there_is_no_leader_election_Role()
    {
        var rendered = Chart.Render("--set", "operator.replicas=1,operator.leaderElection.enabled=false");

        Assert.DoesNotContain(rendered.Documents, d => ((string?)d["metadata"]!["name"])!.EndsWith("-leader-election", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("admin", true)]
    [InlineData("edit", true)]
    [InlineData("view", false)]
    public void InferencePool_rights_aggregate_into_the_built_in_roles(string role, bool writes)
    {
        var clusterRole = Defaults.Find("ClusterRole", $"{Rendered.Release}-inferencepool-{role}");
        var rights = Rights(clusterRole);

        Assert.Equal("true", (string?)clusterRole["metadata"]!["labels"]![$"rbac.authorization.k8s.io/aggregate-to-{role}"]);
        Assert.Contains("laps.dev|inferencepools|get", rights);
        Assert.Contains("laps.dev|inferencepools|watch", rights);
        Assert.Equal(writes, rights.Contains("laps.dev|inferencepools|create"));
        Assert.Equal(writes, rights.Contains("laps.dev|inferencepools|delete"));
        Assert.Equal(writes, rights.Contains("laps.dev|inferencepools/scale|update"));
        Assert.DoesNotContain("laps.dev|inferencepools/status|update", rights);
        Assert.All(rights, r => Assert.StartsWith("laps.dev|", r, StringComparison.Ordinal));
    }

    [Fact]
    public void Aggregated_roles_can_be_turned_off()
    {
        var rendered = Chart.Render("--set", "rbac.aggregateToDefaultRoles=false");

        Assert.DoesNotContain(rendered.OfKind("ClusterRole"), r => ((string?)r["metadata"]!["name"])!.Contains("-inferencepool-", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Chart.Default)]
    [InlineData(Chart.AllFeatures)]
    public void No_rule_uses_a_wildcard_or_nonResourceURLs_and_only_the_operators_Lease_is_named(string values)
    {
        var roles = Chart.Get(values).Documents.Where(d => (string?)d["kind"] is "Role" or "ClusterRole").ToList();
        var rules = roles.SelectMany(d => d["rules"]!.AsArray());

        Assert.All(roles.Where(r => !((string?)r["metadata"]!["name"])!.EndsWith("-leader-election", StringComparison.Ordinal)), role =>
            Assert.All(role["rules"]!.AsArray(), rule => Assert.Null(rule!["resourceNames"])));
        Assert.All(rules, rule =>
        {
            Assert.Null(rule!["nonResourceURLs"]);
            foreach (var field in new[] { "apiGroups", "resources", "verbs" })
            {
                Assert.DoesNotContain("*", rule[field]!.AsArray().Select(v => (string?)v));
            }
        });
    }

    [Theory]
    [InlineData("charts/laps/README.md", "## RBAC")]
    [InlineData("docs/inferencepool.md", "RBAC the operator needs")]
    public void The_RBAC_tables_in_the_docs_list_exactly_what_the_chart_grants(string file, string heading)
    {
        var text = File.ReadAllText(Tools.InRepo(file.Split('/')));
        var rows = text[text.IndexOf(heading, StringComparison.Ordinal)..].Split('\n')
            .SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2); // the header and its rule

        // | `group`, core | `resource`, ... | verb, verb (a remark) | ...
        var documented = rows.SelectMany(row =>
        {
            var cells = row.Split('|')[1..4].Select(c => c.Split('(')[0].Split(',').Select(v => v.Trim().Trim('`')).ToList()).ToList();
            return from g in cells[0] from r in cells[1] from v in cells[2] select $"{(g == "core" ? "" : g)}|{r}|{v}";
        });

        Assert.Equal(Rights(Defaults.Find("ClusterRole", Rendered.Release)), Sorted(documented.Distinct()));
    }

    [Fact]
    public void Without_rbac_create_the_chart_renders_no_rbac_objects()
    {
        var rendered = Chart.Render("--set", "rbac.create=false");

        Assert.DoesNotContain(rendered.Documents, d => ((string?)d["apiVersion"])!.StartsWith("rbac.authorization.k8s.io/", StringComparison.Ordinal));
    }

    private static IEnumerable<string> Triples(string group, string[] resources, string[] verbs) =>
        from resource in resources from verb in verbs select $"{group}|{resource}|{verb}";

    private static List<string> Sorted(IEnumerable<string> rights) => [.. rights.Order(StringComparer.Ordinal)];

    private static List<string> Rights(JsonObject role)
    {
        var triples = role["rules"]!.AsArray().SelectMany(rule =>
            from g in rule!["apiGroups"]!.AsArray()
            from r in rule["resources"]!.AsArray()
            from v in rule["verbs"]!.AsArray()
            select $"{(string?)g}|{(string?)r}|{(string?)v}").ToList();
        Assert.Equal(triples.Count, triples.Distinct().Count()); // no right granted twice
        return [.. triples.Order(StringComparer.Ordinal)];
    }
}
