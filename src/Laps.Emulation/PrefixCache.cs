namespace Laps.Emulation;

/// <summary>
/// The engines' automatic prefix caching, reduced to what it decides: how many leading tokens of a new request's
/// prompt are already computed. KV is kept in blocks of <c>blockSize</c> tokens identified by a hash chain over the
/// tokens up to and including the block (vLLM's block hashing; SGLang's radix tree is the case blockSize = 1); the least
/// recently used blocks are evicted past the capacity. A hit is whole blocks and never the whole prompt: the last
/// prompt token is always computed, so the request has logits to sample from. Not thread-safe.
/// </summary>
public sealed class PrefixCache(int blockSize, long capacityTokens)
{
    private readonly Dictionary<ulong, LinkedListNode<ulong>> _blocks = [];
    private readonly LinkedList<ulong> _lru = new();
    private readonly long _capacityBlocks = capacityTokens / blockSize;

    public int BlockSize => blockSize;

    public int Blocks => _blocks.Count;

    /// <summary>Leading tokens of <paramref name="tokens"/> served from the cache (the hit blocks become most recent).</summary>
    public int Match(ReadOnlySpan<int> tokens)
    {
        var hit = 0;
        var hash = Seed;
        for (var start = 0; start + blockSize <= tokens.Length; start += blockSize)
        {
            hash = Chain(hash, tokens.Slice(start, blockSize));
            if (!_blocks.TryGetValue(hash, out var node))
            {
                break;
            }

            _lru.Remove(node);
            _lru.AddLast(node);
            hit = start + blockSize;
        }

        return Math.Min(hit, Math.Max(0, tokens.Length - 1) / blockSize * blockSize);
    }

    /// <summary>Caches every full block of <paramref name="tokens"/> (computed KV that stays reusable once freed).</summary>
    public void Insert(ReadOnlySpan<int> tokens)
    {
        if (_capacityBlocks == 0)
        {
            return;
        }

        var hash = Seed;
        for (var start = 0; start + blockSize <= tokens.Length; start += blockSize)
        {
            hash = Chain(hash, tokens.Slice(start, blockSize));
            if (_blocks.TryGetValue(hash, out var node))
            {
                _lru.Remove(node);
                _lru.AddLast(node);
                continue;
            }

            _blocks[hash] = _lru.AddLast(hash);
            while (_blocks.Count > _capacityBlocks && _lru.First is { } oldest)
            {
                _blocks.Remove(oldest.Value);
                _lru.RemoveFirst();
            }
        }
    }

    private const ulong Seed = 14695981039346656037UL;

    internal static ulong Chain(ulong hash, ReadOnlySpan<int> block)
    {
        foreach (var token in block)
        {
            hash = (hash ^ (uint)token) * 1099511628211UL;
        }

        // Finalize so that chains of different lengths do not collide trivially.
        hash ^= hash >> 29;
        hash *= 0xBF58476D1CE4E5B9UL;
        return hash ^ (hash >> 32);
    }
}
