using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Telemetry.Deploy.Tests;

/// <summary>Locates the repository and loads its YAML files as JSON trees.</summary>
internal static partial class Repo
{
    /// <summary>Component name with no DeploymentDefaults constant yet (the workflow store).</summary>
    public const string ActorStateStoreName = "telemetry-actorstate";
    public const string DaprVersionPrefix = "1.18.";

    public static readonly string[] AppIds =
        [DeploymentDefaults.StreamerAppId, DeploymentDefaults.CollectorAppId, DeploymentDefaults.GatewayAppId];

    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(PathOf(parts));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TelemetryPipeline.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("TelemetryPipeline.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Every YAML document in the file, converted to JSON with YAML 1.2 core-schema typing.</summary>
    public static IReadOnlyList<JsonNode?> LoadYamlDocuments(string path)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(path));
        stream.Load(reader);
        return stream.Documents.Select(d => ToJson(d.RootNode)).ToList();
    }

    /// <summary>The single document of a YAML file as a JSON object.</summary>
    public static JsonObject LoadYaml(params string[] parts)
    {
        var docs = LoadYamlDocuments(PathOf(parts));
        Assert.True(docs.Count == 1, $"{Path.Combine(parts)} should hold exactly one YAML document");
        return Assert.IsType<JsonObject>(docs[0]);
    }

    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => Mapping(map),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new InvalidOperationException("unknown YAML node " + node.GetType().Name),
    };

    /// <summary>A mapping, honouring YAML merge keys (<c>&lt;&lt;: *anchor</c>) as compose does.</summary>
    private static JsonObject Mapping(YamlMappingNode map)
    {
        var result = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            var name = ((YamlScalarNode)key).Value ?? "";
            if (name == "<<")
            {
                continue;
            }
            result[name] = ToJson(value);
        }
        foreach (var (key, value) in map.Children)
        {
            if (((YamlScalarNode)key).Value == "<<" && ToJson(value) is JsonObject merged)
            {
                foreach (var (k, v) in merged)
                {
                    if (!result.ContainsKey(k))
                    {
                        result[k] = v?.DeepClone();
                    }
                }
            }
        }
        return result;
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not YamlDotNet.Core.ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }
        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }
        if (text is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }
        if (text is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }
        if (IntPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }
        if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return JsonValue.Create(d);
        }
        return JsonValue.Create(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();

    /// <summary>A scalar's text whatever its YAML type (numbers and booleans included).</summary>
    public static string? Text(this JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        JsonValue v => v.ToJsonString(),
        _ => node.ToJsonString(),
    };

    /// <summary>Deep merge the way Helm layers a values file over values.yaml.</summary>
    public static JsonObject Merge(JsonObject baseValues, JsonObject overlay)
    {
        var result = (JsonObject)baseValues.DeepClone();
        foreach (var (key, value) in overlay)
        {
            if (value is JsonObject o && result[key] is JsonObject existing)
            {
                result[key] = Merge(existing, o);
            }
            else
            {
                result[key] = value?.DeepClone();
            }
        }
        return result;
    }

    public static IEnumerable<string> YamlFilesUnder(string relativeDir) =>
        Directory.EnumerateFiles(PathOf(relativeDir), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
}
