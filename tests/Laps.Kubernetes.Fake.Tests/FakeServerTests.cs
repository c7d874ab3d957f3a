namespace Laps.Kubernetes.Fake.Tests;

/// <summary>A fresh fake API server per test, and the real KubernetesClient pointed at it over loopback HTTP.</summary>
public abstract class FakeServerTests : IAsyncLifetime
{
    protected FakeKubernetesServer Server { get; private set; } = null!;

    protected k8s.Kubernetes Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await FakeKubernetesServer.StartAsync();
        Client = Server.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
