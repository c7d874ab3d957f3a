using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Laps.Worker.V1;

/// <summary>
/// The protocol's prompt hash (<c>SequenceInput.prompt_hash</c>): the first 8 bytes of SHA-256 over the prompt's token
/// ids, each a little-endian int32, read as a little-endian unsigned integer. Scheduler and worker compute it the same
/// way, so a worker can tell a Step for the sequence it holds from one that reuses the id for another prompt.
/// </summary>
public static class PromptHash
{
    public static ulong Of(IReadOnlyList<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        var bytes = new byte[tokenIds.Count * sizeof(int)];
        for (var i = 0; i < tokenIds.Count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), tokenIds[i]);
        }

        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes, digest);
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }

    /// <summary>How a hash reads in messages: 16 hex digits.</summary>
    public static string Format(ulong hash) => hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
