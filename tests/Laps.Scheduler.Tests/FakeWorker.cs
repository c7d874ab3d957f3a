using System.Collections.Concurrent;
using System.Globalization;
using Grpc.Core;
using Laps.Worker.V1;

namespace Laps.Scheduler.Tests;

/// <summary>
/// A deterministic in-process worker: every step drafts 3 tokens and emits up to 3 (accepting all but the bonus one),
/// token ids count up from 1000, text " w{id}". A sequence finishes with LENGTH at its max_tokens, or with STOP at
/// <see cref="NaturalLength"/>. In <see cref="Manual"/> mode each Step waits for a permit from <see cref="Allow"/>.
/// </summary>
public sealed class FakeWorker(string name) : SpeculativeWorker.SpeculativeWorkerBase, IDisposable
{
    public const int Drafts = 3;
    private readonly ConcurrentDictionary<string, int> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _promptLengths = new(StringComparer.Ordinal);
    private int _refused;
    private readonly SemaphoreSlim _permits = new(0);

    public string Name { get; } = name;
    public int NaturalLength { get; set; } = int.MaxValue;
    public bool Manual { get; set; }

    /// <summary>Step calls still to fail with UNAVAILABLE (as a worker that restarted and lost every sequence).</summary>
    public int FailSteps { get; set; }

    /// <summary>The first call (counting from 0) that <see cref="FailSteps"/> applies to.</summary>
    public int FailFromCall { get; set; }

    /// <summary>The next Step evicts the sequences it ran, after running them.</summary>
    public bool EvictOnNextStep { get; set; }

    /// <summary>Every Step request, logged as it arrives (before any permit).</summary>
    public EventLog<StepRequest> Steps { get; } = new();

    public EventLog<string> Released { get; } = new();

    /// <summary>KV tokens a step's batch may hold (prompt, generated and the step's Drafts + 1 per sequence).</summary>
    public long KvCapacity { get; set; } = 1_000_000;

    /// <summary>Steps refused with RESOURCE_EXHAUSTED because the batch did not fit <see cref="KvCapacity"/>.</summary>
    public int Refused => Volatile.Read(ref _refused);

    public bool Holds(string sequenceId) => _held.ContainsKey(sequenceId);

    public void Allow(int steps = 1) => _permits.Release(steps);

    public void Dispose() => _permits.Dispose();

    public override Task<WorkerDescription> Describe(DescribeRequest request, ServerCallContext context)
        => Task.FromResult(new WorkerDescription
        {
            ProtocolVersion = "laps.worker.v1",
            WorkerId = Name,
            Engine = "fake",
            LlmModel = "fake-llm",
            SpeculationLength = Drafts,
            MaxBatch = 64,
            MaxStepsPerCall = 1,
            KvCapacityTokens = KvCapacity,
        });

    public override async Task<StepResponse> Step(StepRequest request, ServerCallContext context)
    {
        Steps.Add(request.Clone());
        var call = Steps.Count - 1;
        if (Manual)
        {
            await _permits.WaitAsync(context.CancellationToken);
        }

        if (FailSteps > 0 && call >= FailFromCall)
        {
            FailSteps--;
            _held.Clear();
            throw new RpcException(new Status(StatusCode.Unavailable, "worker restarting"));
        }

        long kv = 0;
        foreach (var input in request.Batch)
        {
            var prompt = _promptLengths.TryGetValue(input.SequenceId, out var known) && input.PromptTokenIds.Count == 0 ? known : input.PromptTokenIds.Count;
            var generated = _held.TryGetValue(input.SequenceId, out var held) ? held : input.GeneratedTokenIds.Count;
            kv += prompt + generated + Drafts + 1;
        }

        if (kv > KvCapacity)
        {
            Interlocked.Increment(ref _refused);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"the batch needs {kv} KV tokens; capacity is {KvCapacity}"));
        }

        var response = new StepResponse { ElapsedS = 0.01 };
        foreach (var input in request.Batch)
        {
            var prefilled = false;
            if (!_held.TryGetValue(input.SequenceId, out var generated))
            {
                if (input.PromptTokenIds.Count == 0)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument, $"unknown sequence {input.SequenceId} without its prompt"));
                }

                generated = input.GeneratedTokenIds.Count;
                _promptLengths[input.SequenceId] = input.PromptTokenIds.Count;
                prefilled = true;
            }

            var maxTokens = input.MaxTokens > 0 ? input.MaxTokens : 16;
            var emitted = Math.Min(Drafts, Math.Min(maxTokens, NaturalLength) - generated);
            var output = new SequenceOutput { SequenceId = input.SequenceId, Steps = 1, Drafted = Drafts, Accepted = Math.Max(0, emitted - 1), Prefilled = prefilled };
            for (var i = 0; i < emitted; i++)
            {
                var id = 1000 + generated + i;
                output.TokenIds.Add(id);
                output.Text += string.Create(CultureInfo.InvariantCulture, $" w{id}");
            }

            generated += emitted;
            _held[input.SequenceId] = generated;
            if (generated >= maxTokens || generated >= NaturalLength)
            {
                output.Finished = true;
                output.FinishReason = generated >= maxTokens ? FinishReason.Length : FinishReason.Stop;
            }

            response.Outputs.Add(output);
        }

        if (EvictOnNextStep)
        {
            EvictOnNextStep = false;
            foreach (var output in response.Outputs.Where(o => !o.Finished))
            {
                _held.TryRemove(output.SequenceId, out _);
                response.EvictedSequenceIds.Add(output.SequenceId);
            }
        }

        return response;
    }

    public override Task<ReleaseResponse> Release(ReleaseRequest request, ServerCallContext context)
    {
        var released = 0;
        foreach (var id in request.SequenceIds)
        {
            if (_held.TryRemove(id, out _))
            {
                released++;
            }

            Released.Add(id);
        }

        return Task.FromResult(new ReleaseResponse { Released = released });
    }
}
