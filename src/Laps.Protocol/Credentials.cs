using System.Security.Cryptography;
using System.Text;

namespace Laps.Worker.V1;

/// <summary>
/// What the worker token and the sidecar's API keys share: the <c>Bearer</c> scheme of an <c>authorization</c> value,
/// the characters a secret may have (visible ASCII, no spaces), and the digest secrets are kept and compared as (in
/// constant time, with <see cref="CryptographicOperations.FixedTimeEquals"/>).
/// </summary>
public static class Credentials
{
    private const string Scheme = "Bearer";

    /// <summary>The value that carries <paramref name="secret"/> in the <c>Bearer</c> scheme.</summary>
    public static string Bearer(string secret) => Scheme + " " + secret;

    /// <summary>The secret an <c>authorization</c> value carries as <c>Bearer &lt;secret&gt;</c> (scheme case-insensitive), else null.</summary>
    public static string? FromBearer(string? authorization)
        => authorization is not null
            && authorization.Length > Scheme.Length
            && authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            && authorization[Scheme.Length] == ' '
                ? authorization[(Scheme.Length + 1)..].Trim()
                : null;

    /// <summary>The position of the first character a secret cannot have (not visible ASCII, or a space); -1 when none.</summary>
    public static int InvisibleAt(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        for (var i = 0; i < secret.Length; i++)
        {
            if (secret[i] is < '!' or > '~')
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>SHA-256 of the secret's UTF-8 bytes.</summary>
    public static byte[] Digest(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
