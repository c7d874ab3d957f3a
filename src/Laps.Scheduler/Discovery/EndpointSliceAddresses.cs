using System.Globalization;
using k8s.Models;

namespace Laps.Scheduler.Discovery;

/// <summary>The worker addresses a set of EndpointSlices describes: pure, so it is tested on its own.</summary>
public static class EndpointSliceAddresses
{
    /// <summary>
    /// Every ready endpoint's address with the port named <paramref name="portName"/> (a slice's only port when the
    /// name is empty), as <c>host:port</c>, IPv6 in brackets. An endpoint whose <c>ready</c> condition is unset
    /// counts as ready, as the API documents; terminating and not-ready ones get no new work.
    /// </summary>
    public static SortedSet<string> From(IEnumerable<V1EndpointSlice> slices, string portName)
    {
        var addresses = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var slice in slices)
        {
            var port = PortOf(slice, portName);
            if (port is null)
            {
                continue;
            }

            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (endpoint.Conditions?.Ready == false || endpoint.Conditions?.Terminating == true)
                {
                    continue;
                }

                foreach (var address in endpoint.Addresses ?? [])
                {
                    var host = slice.AddressType == "IPv6" ? $"[{address}]" : address;
                    addresses.Add(string.Create(CultureInfo.InvariantCulture, $"{host}:{port}"));
                }
            }
        }

        return addresses;
    }

    private static int? PortOf(V1EndpointSlice slice, string portName)
    {
        var ports = slice.Ports ?? [];
        if (string.IsNullOrEmpty(portName))
        {
            return ports.Count == 1 ? ports[0].Port : null;
        }

        return ports.FirstOrDefault(p => string.Equals(p.Name, portName, StringComparison.Ordinal))?.Port;
    }
}
