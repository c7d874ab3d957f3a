using System.Net;

namespace Laps.Scheduler.Tests;

public sealed class BadInputTests : IAsyncLifetime
{
    private SidecarHarness _sidecar = null!;

    public static TheoryData<string, string, int, string?, string> Cases => new()
    {
        // path, body, status, param, code
        { "/v1/completions", "{\"prompt\": \"hi\"", 400, null, "invalid_json" },
        { "/v1/completions", "not json", 400, null, "invalid_json" },
        { "/v1/completions", "[1, 2]", 400, null, "invalid_type" },
        { "/v1/completions", "{}", 400, "prompt", "missing_required_parameter" },
        { "/v1/completions", "{\"prompt\": \"\"}", 400, "prompt", "invalid_value" },
        { "/v1/completions", "{\"prompt\": []}", 400, "prompt", "invalid_value" },
        { "/v1/completions", "{\"prompt\": 42}", 400, "prompt", "invalid_type" },
        { "/v1/completions", "{\"prompt\": [1, 2.5]}", 400, "prompt", "invalid_type" },
        { "/v1/completions", "{\"prompt\": [1, -2]}", 400, "prompt", "invalid_value" },
        { "/v1/completions", "{\"prompt\": [\"a\", \"b\"]}", 400, "prompt", "invalid_value" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"model\": \"gpt-4\"}", 404, "model", "model_not_found" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"model\": 7}", 400, "model", "invalid_type" },
        { "/v1/completions", "{\"prompt\": \"" + string.Join(' ', Enumerable.Repeat("word", 65)) + "\"}", 400, "prompt", "context_length_exceeded" },
        { "/v1/completions", "{\"prompt\": [" + string.Join(',', Enumerable.Range(0, 65)) + "]}", 400, "prompt", "context_length_exceeded" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 0}", 400, "max_tokens", "invalid_value" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 501}", 400, "max_tokens", "invalid_value" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": -1}", 400, "max_tokens", "invalid_value" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 1.5}", 400, "max_tokens", "invalid_type" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": \"10\"}", 400, "max_tokens", "invalid_type" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 99999999999}", 400, "max_tokens", "invalid_value" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"stream\": \"yes\"}", 400, "stream", "invalid_type" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"seed\": \"x\"}", 400, "seed", "invalid_type" },
        { "/v1/completions", "{\"prompt\": \"hi\", \"n\": 2}", 400, "n", "invalid_value" },
        { "/v1/completions", "", 400, null, "invalid_json" },
        { "/v1/chat/completions", "{}", 400, "messages", "missing_required_parameter" },
        { "/v1/chat/completions", "{\"messages\": []}", 400, "messages", "invalid_value" },
        { "/v1/chat/completions", "{\"messages\": \"hi\"}", 400, "messages", "invalid_type" },
        { "/v1/chat/completions", "{\"messages\": [\"hi\"]}", 400, "messages[0]", "invalid_type" },
        { "/v1/chat/completions", "{\"messages\": [{\"content\": \"hi\"}]}", 400, "messages[0].role", "invalid_type" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 3}]}", 400, "messages[0].content", "invalid_type" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"model\": \"other\"}", 404, "model", "model_not_found" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 0}", 400, "max_tokens", "invalid_value" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_completion_tokens\": 9999}", 400, "max_completion_tokens", "invalid_value" },
    };

    public async Task InitializeAsync() => _sidecar = await SidecarHarness.StartAsync();

    public async Task DisposeAsync() => await _sidecar.DisposeAsync();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsA4xxWithAnOpenAiErrorBody(string path, string body, int status, string? param, string code)
    {
        using var response = await _sidecar.PostRawAsync(path, body);

        Assert.Equal(status, (int)response.StatusCode);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Empty(_sidecar.Worker.Steps.Snapshot());
    }

    [Theory]
    [InlineData("{\"prompt\": \"a\\ud800b\"}")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"\\udfff\"}]}")]
    [InlineData("{\"prompt\": \"hi\", \"model\": \"\\ud834\"}")]
    public async Task ALoneSurrogate_Gets400NotA500(string body)
    {
        var path = body.Contains("messages", StringComparison.Ordinal) ? "/v1/chat/completions" : "/v1/completions";

        using var response = await _sidecar.PostRawAsync(path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_text", (await SidecarHarness.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task InvalidUtf8_Gets400()
    {
        using var content = new ByteArrayContent([.. "{\"prompt\": \"a"u8.ToArray(), 0xff, 0xfe, .. "\"}"u8.ToArray()]);
        content.Headers.ContentType = new("application/json");

        using var response = await _sidecar.Client.PostAsync(new Uri("/v1/completions", UriKind.Relative), content).WaitAsync(EventLog<int>.Timeout);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", (await SidecarHarness.JsonAsync(response)).GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task ABodyOverTheLimit_Gets413InTheOpenAiShape()
    {
        var prompt = new string('a', 4 * 1024 * 1024);

        using var response = await _sidecar.PostRawAsync("/v1/completions", "{\"prompt\": \"" + prompt + "\"}");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await SidecarHarness.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("GET", "/v1/completions", 405)]
    [InlineData("DELETE", "/v1/chat/completions", 405)]
    [InlineData("POST", "/v1/models", 405)]
    [InlineData("GET", "/v1/embeddings", 404)]
    [InlineData("POST", "/nowhere", 404)]
    public async Task UnknownPathsAndMethods_GetAnOpenAiErrorBody(string method, string path, int status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);

        using var response = await _sidecar.Client.SendAsync(request).WaitAsync(EventLog<int>.Timeout);

        Assert.Equal(status, (int)response.StatusCode);
        var error = (await SidecarHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (status == 405)
        {
            Assert.NotEmpty(response.Content.Headers.Allow);
        }
    }

    [Fact]
    public async Task UnknownFields_AreIgnored()
    {
        using var response = await _sidecar.PostRawAsync("/v1/completions", "{\"prompt\": \"hi\", \"temperature\": 0.7, \"max_tokens\": null, \"stream\": null}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
