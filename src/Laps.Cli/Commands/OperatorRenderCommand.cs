using System.CommandLine;
using k8s;
using k8s.Models;
using Laps.Operator;
using Laps.Operator.Desired;
using Laps.Operator.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Laps.Cli.Commands;

/// <summary>
/// <c>laps operator render -f pool.yaml [-f more.yaml]</c>: every object the operator would create for each pool, as YAML
/// documents, offline: the operator's own pure <see cref="DesiredState.Build"/> with the ServiceMonitor kind installed. The
/// worker token Secret has no data here: the operator fills in a random token when it creates it; and a pool without a
/// uid (one not read from a cluster) gets no owner references.
/// </summary>
internal sealed class OperatorRenderCommand : Command
{
    public const string CommandName = "render";

    private static readonly Dictionary<string, Type> PoolType = new(StringComparer.Ordinal)
    {
        [$"{InferencePool.GroupVersion}/{InferencePool.KindName}"] = typeof(InferencePool),
    };

    public OperatorRenderCommand()
        : base(CommandName, "Print, offline, every object the operator would create for the InferencePools in the files (YAML).")
    {
        Options.Add(Files);
        Options.Add(Namespace);
        Options.Add(DefaultImage);
        SetAction(parseResult =>
        {
            var output = Render(parseResult.GetValue(Files) ?? [], parseResult.GetValue(Namespace) ?? "default", parseResult.GetValue(DefaultImage) ?? "");
            parseResult.InvocationConfiguration.Output.Write(output);
            return ExitCodes.Success;
        });
    }

    internal Option<string[]> Files { get; } = new("--filename", "-f")
    {
        Description = "A file of InferencePool manifests (several YAML documents allowed; '-' reads stdin); repeatable",
        Required = true,
        Arity = ArgumentArity.OneOrMore,
    };

    internal Option<string> Namespace { get; } = OptionValues.Scalar("--namespace", "Namespace of pools that name none", (_, t) => t, () => "default");

    internal Option<string> DefaultImage { get; } = OptionValues.Scalar(
        "--default-image", "Image for the Laps containers of pools that name none (as the operator's option)", (_, t) => t, () => OperatorSettings.DefaultImageName);

    /// <summary>The YAML documents of every pool's objects, in file and document order; <see cref="UsageException"/> names the file at fault.</summary>
    internal static string Render(IReadOnlyList<string> files, string ns, string defaultImage)
    {
        if (defaultImage.Length == 0)
        {
            throw new UsageException("--default-image: an image is required");
        }

        var settings = new OperatorSettings { DefaultImage = defaultImage };
        var capabilities = new ClusterCapabilities(ServiceMonitorCrd: true);
        var documents = new List<string>();
        foreach (var file in files)
        {
            foreach (var pool in Pools(file, Read(file)))
            {
                pool.Metadata.NamespaceProperty ??= ns;
                var errors = SpecValidator.Validate(ResolvedPool.From(pool, settings));
                if (errors.Count > 0)
                {
                    throw new UsageException($"-f {file}: InferencePool {pool.Metadata.Name} is invalid: {string.Join("; ", errors)}");
                }

                var objects = DesiredState.Build(pool, settings, capabilities);
                if (string.IsNullOrEmpty(pool.Metadata.Uid))
                {
                    // An owner reference needs the pool's uid, which only the API server assigns.
                    foreach (var o in objects)
                    {
                        o.Metadata.OwnerReferences = null;
                    }
                }

                documents.Add(KubernetesYaml.SerializeAll(objects));
            }
        }

        return string.Join("---\n", documents);
    }

    private static string Read(string file)
    {
        try
        {
            return file == "-" ? Console.In.ReadToEnd() : File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"-f {file}: {e.Message}", e);
        }
    }

    // Every document must be an InferencePool: anything else is named, never skipped.
    private static List<InferencePool> Pools(string file, string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new UsageException($"-f {file}: not YAML (line {e.Start.Line}): {LapsCommand.OneLine(e.Message)}", e);
        }

        var documents = stream.Documents.Where(d => d.RootNode is not YamlScalarNode { Value: null or "" }).ToList();
        if (documents.Count == 0)
        {
            throw new UsageException($"-f {file}: no InferencePool in the file");
        }

        for (var i = 0; i < documents.Count; i++)
        {
            var (apiVersion, kind) = documents[i].RootNode is YamlMappingNode map
                ? (Scalar(map, "apiVersion"), Scalar(map, "kind"))
                : (null, null);
            if (apiVersion != InferencePool.GroupVersion || kind != InferencePool.KindName)
            {
                throw new UsageException($"-f {file}: document {i + 1} is {apiVersion ?? "(no apiVersion)"} {kind ?? "(no kind)"}, not an {InferencePool.KindName} ({InferencePool.GroupVersion})");
            }
        }

        List<InferencePool> pools;
        try
        {
            pools = KubernetesYaml.LoadAllFromString(text, PoolType, strict: true).Cast<InferencePool>().ToList();
        }
        catch (YamlException e)
        {
            throw new UsageException($"-f {file}: not an InferencePool: {LapsCommand.OneLine(e.InnerException?.Message ?? e.Message)}", e);
        }

        foreach (var pool in pools)
        {
            if (string.IsNullOrEmpty(pool.Metadata?.Name))
            {
                throw new UsageException($"-f {file}: an InferencePool has no metadata.name");
            }

            pool.Spec ??= new InferencePoolSpec();
        }

        return pools;
    }

    private static string? Scalar(YamlMappingNode map, string key)
        => map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode scalar ? scalar.Value : null;
}
