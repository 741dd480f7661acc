using System.Text.RegularExpressions;

namespace Telemetry.Deploy.Tests;

/// <summary>
/// Rules daprd and components-contrib apply when they load a component, checked against every component file
/// here (components/, components/alternatives/, deploy/compose/components/). Each rule cites the source it
/// reproduces: a file that breaks one loads with an error, or loads and silently does something else.
/// </summary>
public partial class DaprComponentRulesTests
{
    private static readonly string[] ComponentDirs = ["components", "components/alternatives", "deploy/compose/components"];

    private static IEnumerable<(string File, JsonObject Component)> Components() =>
        ComponentDirs.SelectMany(Repo.YamlFilesUnder)
            .Select(f => (File: Path.GetRelativePath(Repo.Root, f), Doc: Repo.LoadYamlDocuments(f).Single() as JsonObject))
            .Where(x => x.Doc?["kind"].Text() == "Component")
            .Select(x => (x.File, x.Doc!));

    private static IEnumerable<(string File, JsonObject Component)> OfType(string type) =>
        Components().Where(c => c.Component["spec"]!["type"].Text() == type);

    private static Dictionary<string, string?> Metadata(JsonObject component) =>
        component["spec"]!["metadata"]!.AsArray().Select(m => m!.AsObject())
            .ToDictionary(m => m["name"].Text()!, m => m["value"].Text());

    /// <summary>A Go duration (time.ParseDuration): one or more number+unit pairs, e.g. "5s", "1m30s", "250ms".</summary>
    [GeneratedRegex(@"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex GoDuration();

    [Fact]
    public void Every_component_kind_the_rules_cover_is_present()
    {
        var types = Components().Select(c => c.Component["spec"]!["type"].Text()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "pubsub.redis", "pubsub.kafka", "pubsub.rabbitmq", "state.sqlite" }, types);
    }

    /// <summary>
    /// daprd replaces {podName} with POD_NAME and refuses to load the component when POD_NAME is empty
    /// (dapr/dapr pkg/runtime/meta/meta.go, convertItemsToProps; POD_NAME read in pkg/runtime/runtime.go). Only the
    /// Kubernetes sidecar injector sets it: these files are for `dapr run -f` and compose.
    /// </summary>
    [Fact]
    public void No_component_outside_kubernetes_refers_to_the_pod_name()
    {
        foreach (var (file, component) in Components())
        {
            foreach (var (name, value) in Metadata(component))
            {
                Assert.False(value?.Contains("{podName}", StringComparison.Ordinal) == true,
                    $"{file}: metadata '{name}' uses {{podName}}, which fails to load wherever POD_NAME is unset (dapr run -f, compose)");
            }
        }
    }

    /// <summary>
    /// The SQLite component builds its own connection string and rejects busy_timeout, journal_mode and
    /// foreign_keys pragmas in the one it is given ("found forbidden option '_pragma=busy_timeout'",
    /// components-contrib common/authentication/sqlite/metadata.go, GetConnectionString); the busy timeout comes
    /// from the busyTimeout metadata (a duration) and WAL is on unless disableWAL.
    /// </summary>
    [Fact]
    public void Sqlite_state_store_sets_busy_timeout_by_metadata_not_by_forbidden_pragmas()
    {
        var stores = OfType("state.sqlite").ToList();
        Assert.NotEmpty(stores);
        foreach (var (file, component) in stores)
        {
            var md = Metadata(component);
            var connection = md["connectionString"] ?? "";
            var query = connection.Contains('?') ? connection[(connection.IndexOf('?') + 1)..] : "";
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var (key, value) = (Uri.UnescapeDataString(pair.Split('=')[0]), Uri.UnescapeDataString(pair.Split('=', 2).ElementAtOrDefault(1) ?? ""));
                if (key != "_pragma")
                {
                    continue;
                }
                foreach (var forbidden in new[] { "busy_timeout", "journal_mode", "foreign_keys" })
                {
                    Assert.False(value.StartsWith(forbidden, StringComparison.OrdinalIgnoreCase),
                        $"{file}: '_pragma={value}' in connectionString is rejected by the component (forbidden option); use the metadata instead");
                }
            }
            Assert.True(md.TryGetValue("busyTimeout", out var busy) && busy is not null,
                $"{file}: set busyTimeout (several sidecars share the file; the component default is 2s)");
            Assert.True(GoDuration().IsMatch(busy!) || busy!.All(char.IsAsciiDigit),
                $"{file}: busyTimeout '{busy}' is neither a Go duration nor milliseconds");
        }
    }

    /// <summary>
    /// Under `dapr run -f .` daprd's working directory is the app's appDirPath (dapr/cli cmd/run.go,
    /// startDaprdAndAppProcesses), so a relative SQLite path resolves from services/Telemetry.*/. All three
    /// sidecars must land on one file, and SQLite creates the file but not its folder: the folder must exist on a
    /// clean checkout, i.e. hold a file git tracks.
    /// </summary>
    [Fact]
    public void Sqlite_state_store_file_is_one_file_in_a_folder_a_clean_checkout_has()
    {
        var template = Repo.LoadYaml("dapr.yaml");
        var appDirs = template["apps"]!.AsArray().Select(a => Repo.PathOf(a!["appDirPath"].Text()!)).ToList();
        Assert.Equal(3, appDirs.Count);
        foreach (var (file, component) in OfType("state.sqlite"))
        {
            var connection = Metadata(component)["connectionString"]!;
            var path = connection.Split('?')[0];
            path = path.StartsWith("file:", StringComparison.Ordinal) ? path["file:".Length..] : path;
            Assert.False(path.StartsWith(':'), $"{file}: an in-memory database is not shared between sidecars");
            var resolved = appDirs.Select(dir => Path.GetFullPath(Path.Combine(dir, path))).Distinct().ToList();
            Assert.True(resolved.Count == 1, $"{file}: '{path}' resolves to different files from the app folders: {string.Join(", ", resolved)}");

            var folder = Path.GetRelativePath(Repo.Root, Path.GetDirectoryName(resolved[0])!);
            Assert.False(folder.StartsWith("..", StringComparison.Ordinal), $"{file}: the database folder {folder} is outside the repository");
            var (code, tracked) = Tools.Run("git", "ls-files", "--", folder);
            Assert.True(code == 0, "git ls-files failed: " + tracked);
            Assert.True(tracked.Trim().Length > 0,
                $"{file}: folder '{folder}' holds no file git tracks, so a clean checkout lacks it and SQLite cannot create the database there");
        }
    }

    /// <summary>
    /// The RabbitMQ component declares queues (and exchanges) auto-delete unless deletedWhenUnused is "false"
    /// (components-contrib pubsub/rabbitmq/metadata.go, createMetadata: DeleteWhenUnused true; passed as
    /// QueueDeclare's autoDelete in pubsub/rabbitmq/rabbitmq.go, prepareSubscription). The broker then drops the
    /// collectors' queue when the last one disconnects, with everything published until one is back.
    /// </summary>
    [Fact]
    public void RabbitMQ_queue_outlives_the_last_collector()
    {
        var brokers = OfType("pubsub.rabbitmq").ToList();
        Assert.NotEmpty(brokers);
        foreach (var (file, component) in brokers)
        {
            var md = Metadata(component);
            Assert.True(md.GetValueOrDefault("deletedWhenUnused") == "false",
                $"{file}: set deletedWhenUnused to \"false\", or the queue is deleted when the last collector disconnects");
            Assert.Equal("true", md.GetValueOrDefault("durable"));
        }
    }

    /// <summary>
    /// The Redis pub/sub reads redeliverInterval only as an unsigned number of milliseconds and keeps its 15 s
    /// default for anything else: the field is tagged mapstructure:"-", so the duration decoder never sees it
    /// (components-contrib common/component/redis/redis.go, ParseClientFromProperties; settings.go, Settings).
    /// processingTimeout goes through the decoder too, so it may also be a Go duration (dapr/kit config/decode.go).
    /// </summary>
    [Fact]
    public void Redis_pubsub_redelivery_settings_are_in_formats_the_component_reads()
    {
        var pubsubs = OfType("pubsub.redis").ToList();
        Assert.NotEmpty(pubsubs);
        foreach (var (file, component) in pubsubs)
        {
            var md = Metadata(component);
            if (md.TryGetValue("redeliverInterval", out var interval))
            {
                Assert.True(interval is not null && interval.All(char.IsAsciiDigit) && interval.Length > 0,
                    $"{file}: redeliverInterval '{interval}' is ignored by the component (it reads plain milliseconds only, e.g. \"30000\")");
            }
            if (md.TryGetValue("processingTimeout", out var timeout))
            {
                Assert.True(timeout is not null && (timeout.All(char.IsAsciiDigit) || GoDuration().IsMatch(timeout)),
                    $"{file}: processingTimeout '{timeout}' is neither milliseconds nor a Go duration");
            }
        }
    }
}
