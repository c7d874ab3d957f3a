namespace Laps.Deploy.Tests;

/// <summary>values.schema.json turns bad values into a helm error before anything reaches a cluster.</summary>
public class ValuesSchemaTests
{
    [Theory]
    [InlineData("--set-string", "operator.replicas=2", "/operator/replicas")]
    [InlineData("--set", "operator.replicas=-1", "/operator/replicas")]
    [InlineData("--set", "operator.replicas=11", "/operator/replicas")]
    [InlineData("--set", "replicaCount=2", "'replicaCount' not allowed")]
    [InlineData("--set", "operator.watchNamespaces=a", "'watchNamespaces' not allowed")]
    [InlineData("--set", "operator.securityContext.privileged=yes", "/operator/securityContext/privileged")]
    [InlineData("--set", "operator.securityContext.runAsRoot=true", "'runAsRoot' not allowed")]
    [InlineData("--set", "operator.watchNamespace=Bad_Namespace", "/operator/watchNamespace")]
    [InlineData("--set", "operator.port=80", "/operator/port")]
    [InlineData("--set", "operator.leaderElection.enabled=maybe", "/operator/leaderElection/enabled")]
    [InlineData("--set", "image.pullPolicy=Sometimes", "/image/pullPolicy")]
    [InlineData("--set", "image.digest=latest", "/image/digest")]
    [InlineData("--set", "serviceMonitor.interval=30", "/serviceMonitor/interval")]
    [InlineData("--set", "metricsService.type=Ingress", "/metricsService/type")]
    [InlineData("--set", "commonLabels.team=1", "/commonLabels/team")]
    [InlineData("--set", "operator.tolerations[0].effect=Sometimes", "/operator/tolerations/0/effect")]
    [InlineData("--set", "grafanaDashboard.enabled=true,grafanaDashboard.extra=1", "'extra' not allowed")]
    public void Helm_template_rejects_values_that_break_the_schema(string flag, string value, string expected)
    {
        var result = Chart.Template(flag, value);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("schema", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_replicas_without_leader_election_are_refused()
    {
        var result = Chart.Template("--set", "operator.replicas=2,operator.leaderElection.enabled=false");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("needs operator.leaderElection.enabled", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("operator.replicas=1")]
    [InlineData("operator.replicas=0")]
    [InlineData("operator.replicas=1,operator.leaderElection.enabled=false")]
    [InlineData("operator.watchNamespace=inference")]
    [InlineData("rbac.aggregateToDefaultRoles=false")]
    [InlineData("serviceAccount.create=false,serviceAccount.name=existing")]
    public void Helm_template_accepts_valid_values(string value)
    {
        var result = Chart.Template("--set", value);

        Assert.True(result.ExitCode == 0, result.Output);
    }
}
