using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Prediction;

/// <summary>
/// Predicts a request's output length from its prompt, learning online from the requests that complete: usable live,
/// where only the prompt and, later, the true lengths are known. A linear model of <c>ln(output length)</c> over
/// sparse features of the prompt, trained by AdaGrad on the squared error, one step per <see cref="Observe"/>.
/// </summary>
/// <remarks>
/// <para>Features, each group scaled to unit norm: a bias; ln(prompt length) and its square; the prompt length's
/// half-octave bucket; the distinct prompt tokens (presence, hashed); the distinct bigrams of consecutive tokens
/// (hashed); the distinct tokens among the last <see cref="OnlineLengthPredictorOptions.TailTokens"/>. Hashing is a
/// fixed integer mix into 2^<see cref="OnlineLengthPredictorOptions.HashBits"/> weights, so the model is
/// deterministic and needs no randomness. Without <see cref="RequestState.PromptTokenIds"/> only the length
/// features speak.</para>
/// <para>Before any observation it predicts <see cref="OnlineLengthPredictorOptions.PriorLength"/> (every weight
/// starts at 0 around ln(prior)).</para>
/// <para>Client hint (<see cref="RequestState.LengthHint"/>, when finite and &gt; 0): while the model has learned
/// from fewer than <see cref="OnlineLengthPredictorOptions.HintOnlyBelowObservations"/> completions the hint is the
/// prediction; afterwards the prediction is the weighted geometric mean
/// <c>exp((1 − w)·ln model + w·ln hint)</c> with <c>w = </c><see cref="OnlineLengthPredictorOptions.HintWeight"/>.
/// Learning ignores hints: the model learns from the prompt only.</para>
/// <para>The cap at <c>max_tokens</c> is not applied here: wrap in <see cref="MaxTokensCapPredictor"/>.</para>
/// <para>Cost: O(scanned prompt tokens) per prediction, without allocating once its buffers have grown to the longest
/// prompt seen. Not thread-safe.</para>
/// </remarks>
public sealed class OnlineLengthPredictor : ILengthPredictor
{
    private const int DenseFeatures = 3;
    private const uint LengthBucketSpace = 1;
    private const uint UnigramSpace = 2;
    private const uint BigramSpace = 3;
    private const uint TailSpace = 4;

    private readonly OnlineLengthPredictorOptions _options;
    private readonly double _logPrior;
    private readonly uint _mask;
    private readonly int _table;

    // Weights (hashed table, then the dense features), AdaGrad's sums of squared gradients, and Σ t·Δw for averaging.
    private readonly double[] _weights;
    private readonly double[] _gradSquares;
    private readonly double[] _weightedSteps;

    // Feature buffers, reused: (index, value) pairs of the last extraction, and the stamp of the extraction that last
    // saw each hashed index (deduplication without clearing).
    private int[] _indices = new int[256];
    private double[] _values = new double[256];
    private int _featureCount;
    private readonly int[] _stamps;
    private int _stamp;

    // How many learned-from prompts held each hashed token feature; rarer ones stay silent (they would only memorise).
    private readonly int[] _promptCounts;
    private bool _observing;

    public OnlineLengthPredictor(OnlineLengthPredictorOptions? options = null)
    {
        _options = options ?? new OnlineLengthPredictorOptions();
        _options.Validate();
        _logPrior = Math.Log(_options.PriorLength);
        _table = 1 << _options.HashBits;
        _mask = (uint)_table - 1;
        _weights = new double[_table + DenseFeatures];
        _gradSquares = new double[_table + DenseFeatures];
        _weightedSteps = _options.AverageWeights ? new double[_table + DenseFeatures] : [];
        _stamps = new int[_table];
        _promptCounts = new int[_table];
    }

    public string Name => "online";

    public OnlineLengthPredictorOptions Options => _options;

    /// <summary>Completions learned from so far.</summary>
    public long Observations { get; private set; }

    public double Predict(RequestState request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var model = ModelPrediction(request);
        if (request.LengthHint is double hint && hint > 0 && !double.IsInfinity(hint))
        {
            if (Observations < _options.HintOnlyBelowObservations)
            {
                return Math.Max(hint, 1);
            }

            var w = _options.HintWeight;
            return Math.Max(1, Math.Exp(((1 - w) * Math.Log(model)) + (w * Math.Log(hint))));
        }

        return model;
    }

    /// <summary>The model's prediction from the prompt alone, ignoring any hint (tokens, &gt;= 1).</summary>
    public double ModelPrediction(RequestState request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Extract(request);
        return Math.Max(1, Math.Exp(_logPrior + Score(averaged: _options.AverageWeights)));
    }

    public void Observe(RequestState completed, int trueLength)
    {
        ArgumentNullException.ThrowIfNull(completed);
        _observing = true;
        Extract(completed);
        _observing = false;
        var error = _logPrior + Score(averaged: false) - Math.Log(Math.Max(trueLength, 1));

        // A single wild completion (e.g. a runaway generation) must not wreck the model: clip the residual.
        error = Math.Clamp(error, -4, 4);
        Observations++;
        var step = _options.LearningRate;
        var l2 = _options.L2;
        var average = _options.AverageWeights;
        double t = Observations;
        for (var k = 0; k < _featureCount; k++)
        {
            var i = _indices[k];
            var gradient = (error * _values[k]) + (l2 * _weights[i]);
            _gradSquares[i] += gradient * gradient;
            var delta = -step * gradient / Math.Sqrt(1 + _gradSquares[i]);
            _weights[i] += delta;
            if (average)
            {
                _weightedSteps[i] += t * delta;
            }
        }
    }

    private double Score(bool averaged)
    {
        var sum = 0.0;
        if (averaged && Observations > 0)
        {
            // Mean of the weights after each of the T updates: ((T + 1)·w − Σ t·Δw_t) / T.
            double t = Observations;
            for (var k = 0; k < _featureCount; k++)
            {
                var i = _indices[k];
                sum += ((((t + 1) * _weights[i]) - _weightedSteps[i]) / t) * _values[k];
            }
        }
        else
        {
            for (var k = 0; k < _featureCount; k++)
            {
                sum += _weights[_indices[k]] * _values[k];
            }
        }

        return sum;
    }

    private void Extract(RequestState request)
    {
        var tokens = request.PromptTokenIds;
        var length = tokens?.Count ?? request.PromptTokens;
        var scanned = tokens is null ? 0 : Math.Min(tokens.Count, _options.MaxScannedTokens);
        EnsureCapacity(DenseFeatures + 1 + (3 * scanned) + Math.Min(scanned, _options.TailTokens));
        NextStamp();
        _featureCount = 0;

        // Dense: bias, standardised ln(prompt length) (about -2..2 for 1..10k tokens) and its square.
        var z = (Math.Log(length + 1.0) - 5) / 2;
        Add(_table, 1);
        Add(_table + 1, z);
        Add(_table + 2, z * z);

        var bucket = (uint)Math.Floor(2 * Math.Log2(length + 1.0));
        Add((int)(Hash(LengthBucketSpace, bucket, 0) & _mask), 1);

        if (tokens is null || tokens.Count == 0)
        {
            return;
        }

        var head = scanned == tokens.Count ? scanned : scanned / 2;
        var tailStart = tokens.Count - (scanned - head);

        var start = _featureCount;
        AddTokens(tokens, 0, head, UnigramSpace, bigrams: false);
        AddTokens(tokens, tailStart, tokens.Count, UnigramSpace, bigrams: false);
        Normalise(start);

        if (_options.LengthInteractions)
        {
            // The same tokens again, each scaled by z: lets the effect of the prompt's length depend on what the
            // prompt is (a summary grows with its article, a chat answer hardly with its question).
            var unigrams = _featureCount - start;
            for (var k = start; k < start + unigrams; k++)
            {
                var i = (int)(Mix((uint)_indices[k] ^ 0x5BD1E995u) & _mask);
                Add(i, _values[k] * z);
            }
        }

        if (_options.Bigrams)
        {
            start = _featureCount;
            AddTokens(tokens, 0, head, BigramSpace, bigrams: true);
            AddTokens(tokens, tailStart, tokens.Count, BigramSpace, bigrams: true);
            Normalise(start);
        }

        if (_options.TailTokens > 0)
        {
            start = _featureCount;
            AddTokens(tokens, Math.Max(0, tokens.Count - _options.TailTokens), tokens.Count, TailSpace, bigrams: false);
            Normalise(start);
        }
    }

    private void AddTokens(IReadOnlyList<int> tokens, int from, int to, uint space, bool bigrams)
    {
        if (tokens is int[] array)
        {
            // The common case (traces, hosts): index the array directly.
            for (var p = bigrams ? from + 1 : from; p < to; p++)
            {
                AddHashed(Hash(space, (uint)array[p], bigrams ? (uint)array[p - 1] : 0));
            }

            return;
        }

        for (var p = bigrams ? from + 1 : from; p < to; p++)
        {
            AddHashed(Hash(space, (uint)tokens[p], bigrams ? (uint)tokens[p - 1] : 0));
        }
    }

    private void AddHashed(uint hash)
    {
        var i = (int)(hash & _mask);
        if (_stamps[i] == _stamp)
        {
            return;
        }

        _stamps[i] = _stamp;
        if (_observing && _promptCounts[i] < int.MaxValue)
        {
            _promptCounts[i]++;
        }

        if (_promptCounts[i] >= _options.MinFeaturePrompts)
        {
            Add(i, 1);
        }
    }

    private void Add(int index, double value)
    {
        _indices[_featureCount] = index;
        _values[_featureCount] = value;
        _featureCount++;
    }

    private void Normalise(int start)
    {
        var count = _featureCount - start;
        if (count == 0)
        {
            return;
        }

        var value = 1 / Math.Sqrt(count);
        _values.AsSpan(start, count).Fill(value);
    }

    private void NextStamp()
    {
        if (_stamp == int.MaxValue)
        {
            Array.Clear(_stamps);
            _stamp = 0;
        }

        _stamp++;
    }

    private void EnsureCapacity(int needed)
    {
        if (_indices.Length >= needed)
        {
            return;
        }

        var size = Math.Max(needed, _indices.Length * 2);
        _indices = new int[size];
        _values = new double[size];
    }

    /// <summary>A fixed integer mix of (feature space, a, b): deterministic across runs and platforms.</summary>
    private static uint Hash(uint space, uint a, uint b)
    {
        var h = Mix((space * 0x9E3779B1u) ^ a);
        return Mix(h ^ ((b + 0x7F4A7C15u) * 0x85EBCA6Bu));
    }

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x7FEB352Du;
        h ^= h >> 15;
        h *= 0x846CA68Bu;
        h ^= h >> 16;
        return h;
    }
}
