using System.Text.Json.Serialization;

namespace Laps.Scheduler.Api;

/// <summary>An error answered to the client in OpenAI's shape: <c>{"error":{"message","type","param","code"}}</c>.</summary>
public sealed class ApiException : Exception
{
    public ApiException(int status, string message, string type, string? param, string? code, string reason)
        : base(message)
    {
        Status = status;
        Type = type;
        Param = param;
        Code = code;
        Reason = reason;
    }

    public ApiException()
        : this(400, "invalid request", InvalidRequest, null, null, Observability.RejectReason.InvalidRequest)
    {
    }

    public ApiException(string message)
        : this(400, message, InvalidRequest, null, null, Observability.RejectReason.InvalidRequest)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 400;
        Type = InvalidRequest;
        Reason = Observability.RejectReason.InvalidRequest;
    }

    public const string InvalidRequest = "invalid_request_error";

    public int Status { get; }
    public string Type { get; }
    public string? Param { get; }
    public string? Code { get; }

    /// <summary>The <c>reason</c> label it counts under in <c>laps_rejected_requests_total</c>.</summary>
    public string Reason { get; }

    public ErrorBody ToBody() => new(new ErrorDetail(Message, Type, Param, Code));

    public static ApiException Invalid(string message, string? param, string code = "invalid_value")
        => new(400, message, InvalidRequest, param, code, Observability.RejectReason.InvalidRequest);

    public static ApiException Missing(string param)
        => new(400, $"'{param}' is required", InvalidRequest, param, "missing_required_parameter", Observability.RejectReason.InvalidRequest);

    public static ApiException WrongType(string param, string expected)
        => new(400, $"'{param}' must be {expected}", InvalidRequest, param, "invalid_type", Observability.RejectReason.InvalidRequest);
}

public sealed record ErrorBody([property: JsonPropertyName("error")] ErrorDetail Error);

public sealed record ErrorDetail(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);
