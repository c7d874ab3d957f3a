using k8s.Models;
using Laps.Scheduler.Discovery;

namespace Laps.Scheduler.Tests;

public sealed class EndpointSliceAddressesTests
{
    [Fact]
    public void ReadyEndpoints_OnTheNamedPort_BecomeHostPort()
    {
        var slice = Slice("IPv4", [Port("metrics", 9090), Port("grpc", 50051)], Endpoint("10.0.0.2", ready: true), Endpoint("10.0.0.1", ready: null));

        Assert.Equal(["10.0.0.1:50051", "10.0.0.2:50051"], EndpointSliceAddresses.From([slice], "grpc"));
    }

    [Fact]
    public void NotReadyAndTerminatingEndpoints_GetNoWork()
    {
        var slice = Slice("IPv4", [Port("grpc", 50051)], Endpoint("10.0.0.1", ready: false), Endpoint("10.0.0.2", ready: true, terminating: true));

        Assert.Empty(EndpointSliceAddresses.From([slice], "grpc"));
    }

    [Fact]
    public void Ipv6Addresses_AreBracketed()
    {
        var slice = Slice("IPv6", [Port("grpc", 50051)], Endpoint("fd00::1", ready: true));

        Assert.Equal(["[fd00::1]:50051"], EndpointSliceAddresses.From([slice], "grpc"));
    }

    [Theory]
    [InlineData("", 1, true)]   // no name: a slice's only port
    [InlineData("", 2, false)]  // no name and two ports: ambiguous, skipped
    [InlineData("grpc", 1, false)] // the slice lacks the named port
    public void PortChoice(string portName, int ports, bool expectAddress)
    {
        Discoveryv1EndpointPort[] all = [.. Enumerable.Range(0, ports).Select(i => Port($"p{i}", 5000 + i))];
        var slice = Slice("IPv4", all, Endpoint("10.0.0.1", ready: true));

        Assert.Equal(expectAddress, EndpointSliceAddresses.From([slice], portName).Count == 1);
    }

    [Fact]
    public void SeveralSlices_AreOneSet()
    {
        var a = Slice("IPv4", [Port("grpc", 1)], Endpoint("10.0.0.1", ready: true));
        var b = Slice("IPv4", [Port("grpc", 1)], Endpoint("10.0.0.1", ready: true), Endpoint("10.0.0.3", ready: true));

        Assert.Equal(["10.0.0.1:1", "10.0.0.3:1"], EndpointSliceAddresses.From([a, b], "grpc"));
    }

    private static V1EndpointSlice Slice(string addressType, IList<Discoveryv1EndpointPort> ports, params V1Endpoint[] endpoints)
        => new() { AddressType = addressType, Ports = ports, Endpoints = endpoints, Metadata = new V1ObjectMeta { Name = "s" } };

    private static Discoveryv1EndpointPort Port(string name, int port) => new() { Name = name, Port = port };

    private static V1Endpoint Endpoint(string address, bool? ready, bool terminating = false)
        => new() { Addresses = [address], Conditions = new V1EndpointConditions { Ready = ready, Terminating = terminating } };
}
