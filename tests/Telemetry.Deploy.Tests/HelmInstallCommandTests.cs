using System.Globalization;
using System.Text.RegularExpressions;
using NJsonSchema;

namespace Telemetry.Deploy.Tests;

/// <summary>
/// The install command users bring from the original deployment guide, and the chart's rule that every value it
/// declares or accepts is read by a template. No Helm binary is needed: values are built from --set the way Helm's
/// strvals parser types them, layered over values.yaml the way Helm coalesces them, validated against
/// values.schema.json, and looked up in the templates' .Values references. Where Helm is installed the same
/// command is also rendered for real.
/// </summary>
public partial class HelmInstallCommandTests
{
    private const string Chart = "deploy/helm/telemetry-pipeline";

    /// <summary>The command from the original deployment guide, verbatim.</summary>
    public const string OriginalGuideCommand =
        "helm install telemetry ./deploy/helm/telemetry-pipeline --set streamer.image.registry=localhost:5000 " +
        "--set collector.image.registry=localhost:5000 --set apiGateway.image.registry=localhost:5000 " +
        "--set global.imageTag=latest";

    private static readonly JsonObject Values = Repo.LoadYaml(Chart, "values.yaml");
    private static readonly Lazy<JsonSchema> Schema =
        new(() => JsonSchema.FromJsonAsync(Repo.Read(Chart, "values.schema.json")).GetAwaiter().GetResult());

    private static string[] SetArguments(string command)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Select((w, i) => (w, i)).Where(x => x.w == "--set").Select(x => words[x.i + 1]).ToArray();
    }

    /// <summary>
    /// --set a.b.c=v as Helm's strvals parser reads simple keys: dots nest maps; "true"/"false" become booleans,
    /// "null" null, a whole number not starting with 0 (or "0" itself) an integer, anything else a string
    /// (helm pkg/strvals/parser.go, typedVal).
    /// </summary>
    public static JsonObject ParseSet(params string[] assignments)
    {
        var result = new JsonObject();
        foreach (var assignment in assignments)
        {
            var eq = assignment.IndexOf('=');
            Assert.True(eq > 0, $"--set '{assignment}' has no '='");
            var keys = assignment[..eq].Split('.');
            var raw = assignment[(eq + 1)..];
            JsonNode? value = raw.ToLowerInvariant() switch
            {
                "true" => true,
                "false" => false,
                "null" => null,
                "0" => 0L,
                _ when raw.Length > 0 && raw[0] != '0' && long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
                _ => raw,
            };
            var node = result;
            foreach (var key in keys[..^1])
            {
                node[key] ??= new JsonObject();
                node = node[key]!.AsObject();
            }
            node[keys[^1]] = value;
        }
        return result;
    }

    private static ICollection<NJsonSchema.Validation.ValidationError> Validate(JsonNode values) =>
        Schema.Value.Validate(values.ToJsonString());

    private static JsonObject CommandValues() => ParseSet(SetArguments(OriginalGuideCommand));

    [Fact]
    public void Original_guide_command_passes_the_values_schema()
    {
        // Helm layers --set over values.yaml (user tables merge into chart tables; user scalars win: helm
        // pkg/chartutil/coalesce.go, coalesceTablesFullKey) and validates the result against values.schema.json.
        var errors = Validate(Repo.Merge(Values, CommandValues()));
        Assert.True(errors.Count == 0, "the original guide's install command fails the chart's schema: " + string.Join("; ", errors.Select(e => e.ToString())));
    }

    [Fact]
    public void Original_guide_command_sets_only_values_a_template_reads()
    {
        var read = ValuePathsRead();
        foreach (var path in LeafPaths(CommandValues()))
        {
            Assert.True(IsRead(path, read), $"--set {path} is accepted but no template reads it");
        }
    }

    [Fact]
    public void Every_value_the_chart_declares_is_read_by_a_template()
    {
        var read = ValuePathsRead();
        var unread = LeafPaths(Values).Where(p => !IsRead(p, read)).ToList();
        Assert.True(unread.Count == 0, "values.yaml declares values no template reads: " + string.Join(", ", unread));
    }

    /// <summary>The services pass their own image (and the gateway its alias) to one helper, which reads
    /// repository, registry and tag from them and falls back in the order values.yaml documents.</summary>
    [Fact]
    public void Image_helper_takes_each_part_from_the_first_non_empty_source_in_the_documented_order()
    {
        var helpers = Repo.Read(Chart, "templates", "_helpers.tpl");
        Assert.Contains("coalesce (get $alias \"repository\") (get $own \"repository\")", helpers);
        Assert.Contains("coalesce (get $alias \"registry\") (get $own \"registry\") $root.Values.image.registry", helpers);
        Assert.Contains("coalesce (get $alias \"tag\") (get $own \"tag\") $root.Values.image.tag $root.Values.global.imageTag $root.Chart.AppVersion", helpers);
        // A plain name (the chart's earlier form, --set streamer.image=name) is still accepted.
        Assert.Contains("if not (kindIs \"map\" $own)", helpers);

        Assert.Contains("include \"telemetry.image\" (list . $v.image)", Repo.Read(Chart, "templates", "streamer-deployment.yaml"));
        Assert.Contains("include \"telemetry.image\" (list . $v.image)", Repo.Read(Chart, "templates", "collector-deployment.yaml"));
        Assert.Contains("include \"telemetry.image\" (list . $v.image .Values.apiGateway.image)", Repo.Read(Chart, "templates", "gateway-deployment.yaml"));
    }

    public static TheoryData<string> AcceptedImageForms => new()
    {
        "streamer.image=my-streamer",
        "gateway.image=registry.example.com/team/api-gateway",
        "collector.image.tag=1.2.3",
        "image.tag=7",
        "global.imageTag=42",
        "apiGateway.image.repository=gw",
        "apiGateway.image.tag=latest",
    };

    [Theory]
    [MemberData(nameof(AcceptedImageForms))]
    public void Schema_accepts_the_image_forms_the_helper_reads(string assignment)
    {
        var errors = Validate(Repo.Merge(Values, ParseSet(assignment)));
        Assert.True(errors.Count == 0, $"--set {assignment}: " + string.Join("; ", errors.Select(e => e.ToString())));
    }

    public static TheoryData<string> RejectedImageForms => new()
    {
        "streamer.image.pullPolicy=Always",
        "apiGateway.replicas=3",
        "apiGateway.image.digest=sha256",
        "global.imageTag=true",
        "collector.image.repository=",
    };

    [Theory]
    [MemberData(nameof(RejectedImageForms))]
    public void Schema_rejects_image_keys_no_template_reads(string assignment) =>
        Assert.NotEmpty(Validate(Repo.Merge(Values, ParseSet(assignment))));

    [ToolFact("helm")]
    public void Helm_renders_the_original_guide_command_with_the_images_it_names()
    {
        var args = new List<string> { "template", "telemetry", Chart };
        foreach (var set in SetArguments(OriginalGuideCommand))
        {
            args.Add("--set");
            args.Add(set);
        }
        var (code, output) = Tools.Run("helm", [.. args]);
        Assert.True(code == 0, output);
        Assert.Contains("image: localhost:5000/telemetry-streamer:latest", output);
        Assert.Contains("image: localhost:5000/telemetry-collector:latest", output);
        Assert.Contains("image: localhost:5000/api-gateway:latest", output);
    }

    // ------------------------------------------------------------------ what the templates read

    [GeneratedRegex(@"\$(?<var>\w+)\s*:=\s*\.Values(?<path>(\.\w+)*)\s*")]
    private static partial Regex AliasDefinition();

    [GeneratedRegex(@"\.Values(?<path>(\.\w+)+)")]
    private static partial Regex ValuesReference();

    [GeneratedRegex(@"\$(?<var>\w+)(?<path>(\.\w+)+)")]
    private static partial Regex VariableReference();

    /// <summary>Every .Values path a template names, directly ($root.Values.a.b, .Values.a.b) or through a
    /// variable bound to part of .Values ($v := .Values.streamer, then $v.image). A path passed on whole
    /// (toYaml $v.resources, the image helper's $v.image) counts for everything under it.</summary>
    private static HashSet<string> ValuePathsRead()
    {
        var read = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Repo.PathOf(Chart, "templates")))
        {
            var text = File.ReadAllText(file);
            var aliases = AliasDefinition().Matches(text).ToDictionary(m => m.Groups["var"].Value, m => m.Groups["path"].Value.TrimStart('.'));
            var body = AliasDefinition().Replace(text, " ");
            foreach (Match m in ValuesReference().Matches(body))
            {
                read.Add(m.Groups["path"].Value.TrimStart('.'));
            }
            foreach (Match m in VariableReference().Matches(body))
            {
                if (aliases.TryGetValue(m.Groups["var"].Value, out var prefix))
                {
                    read.Add((prefix + m.Groups["path"].Value).TrimStart('.'));
                }
            }
        }
        Assert.NotEmpty(read);
        return read;
    }

    private static bool IsRead(string path, HashSet<string> read) =>
        read.Any(r => path == r || path.StartsWith(r + ".", StringComparison.Ordinal));

    private static IEnumerable<string> LeafPaths(JsonObject values, string prefix = "")
    {
        foreach (var (key, value) in values)
        {
            var path = prefix.Length == 0 ? key : prefix + "." + key;
            if (value is JsonObject child && child.Count > 0)
            {
                foreach (var leaf in LeafPaths(child, path))
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return path;
            }
        }
    }
}
