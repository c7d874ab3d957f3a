using Laps.Scheduling.Requests;

namespace Laps.Scheduling.Tests.Builders;

/// <summary>Builds <see cref="RequestState"/>s for tests: arrival = id unless told, ground truth 100 tokens at 0.5.</summary>
internal sealed class RequestBuilder
{
    private readonly long _id;
    private double _arrival;
    private int? _maxTokens;
    private OracleInfo? _truth = new(100, 0.5);
    private double? _predicted;

    private RequestBuilder(long id)
    {
        _id = id;
        _arrival = id;
    }

    public static RequestBuilder Request(long id) => new(id);

    public RequestBuilder ArrivingAt(double time)
    {
        _arrival = time;
        return this;
    }

    public RequestBuilder WithMaxTokens(int maxTokens)
    {
        _maxTokens = maxTokens;
        return this;
    }

    public RequestBuilder WithTruth(int length, double acceptance = 0.5)
    {
        _truth = new OracleInfo(length, acceptance);
        return this;
    }

    public RequestBuilder WithoutTruth()
    {
        _truth = null;
        return this;
    }

    /// <summary>Sets <see cref="RequestState.PredictedLength"/> directly, for tests that drive a policy without a predictor.</summary>
    public RequestBuilder Predicted(double length)
    {
        _predicted = length;
        return this;
    }

    public RequestState Build()
    {
        var r = new RequestState(_id, _arrival, promptTokens: 16, _maxTokens) { Oracle = _truth };
        if (_predicted is double p)
        {
            r.PredictedLength = p;
        }

        return r;
    }

    public static implicit operator RequestState(RequestBuilder builder) => builder.Build();
}
