namespace Telemetry.Deploy.Tests;

/// <summary>components/ (dapr run), deploy/compose/components/ and components/alternatives/.</summary>
public class ComponentTests
{
    public static TheoryData<string> ComponentDirs => new() { "components", "deploy/compose/components" };

    private static JsonObject Load(string dir, string file) => Repo.LoadYaml(dir, file);

    private static Dictionary<string, string?> Metadata(JsonObject component) =>
        component["spec"]!["metadata"]!.AsArray()
            .Select(m => m!.AsObject())
            .ToDictionary(m => m["name"].Text()!, m => m["value"].Text());

    private static string[] Scopes(JsonObject component) =>
        component["scopes"]?.AsArray().Select(s => s.Text()!).Order(StringComparer.Ordinal).ToArray() ?? [];

    [Fact]
    public void Every_yaml_file_in_the_deployment_tree_parses()
    {
        var files = Repo.YamlFilesUnder("components")
            .Concat(Repo.YamlFilesUnder("deploy/compose"))
            .Concat(Directory.EnumerateFiles(Repo.PathOf("deploy/helm/telemetry-pipeline"), "*.yaml"))
            .Concat(Repo.YamlFilesUnder("deploy/helm/telemetry-pipeline/examples"))
            .Append(Repo.PathOf("dapr.yaml"))
            .Append(Repo.PathOf(".yamllint"))
            .ToList();
        Assert.True(files.Count >= 20, $"expected the deployment YAML files, found {files.Count}");
        foreach (var file in files)
        {
            var docs = Repo.LoadYamlDocuments(file);
            Assert.True(docs.Count > 0 && docs.All(d => d is JsonObject), $"{file} is empty or not a mapping");
        }
    }

    [Theory]
    [MemberData(nameof(ComponentDirs))]
    public void Pubsub_is_redis_streams_bounded_and_shared_by_replicas(string dir)
    {
        var c = Load(dir, "pubsub.yaml");
        Assert.Equal("Component", c["kind"].Text());
        Assert.Equal(DeploymentDefaults.PubSubName, c["metadata"]!["name"].Text());
        Assert.Equal("pubsub.redis", c["spec"]!["type"].Text());
        var md = Metadata(c);
        Assert.True(md.TryGetValue("maxLenApprox", out var maxLen), "maxLenApprox must bound the stream");
        Assert.True(long.Parse(maxLen!) >= 1000, "maxLenApprox is too small to be useful");
        Assert.False(md.ContainsKey("consumerID"), "consumerID must stay the Dapr default (app id) so replicas share a group");
        Assert.True(md.ContainsKey("concurrency"));
        Assert.Equal(Repo.AppIds.Order(StringComparer.Ordinal), Scopes(c));
    }

    [Theory]
    [MemberData(nameof(ComponentDirs))]
    public void State_store_uses_name_prefix_so_gateway_reads_collector_keys(string dir)
    {
        var c = Load(dir, "statestore.yaml");
        Assert.Equal(DeploymentDefaults.StateStoreName, c["metadata"]!["name"].Text());
        Assert.Equal("state.redis", c["spec"]!["type"].Text());
        var md = Metadata(c);
        Assert.Equal("name", md["keyPrefix"]);
        Assert.Equal("false", md["actorStateStore"]);
        Assert.Equal(Repo.AppIds.Order(StringComparer.Ordinal), Scopes(c));
    }

    [Theory]
    [MemberData(nameof(ComponentDirs))]
    public void Actor_state_store_is_flagged_and_scoped_to_the_gateway(string dir)
    {
        var c = Load(dir, "actorstate.yaml");
        Assert.Equal(Repo.ActorStateStoreName, c["metadata"]!["name"].Text());
        Assert.StartsWith("state.", c["spec"]!["type"].Text());
        Assert.Equal("true", Metadata(c)["actorStateStore"]);
        Assert.Equal([DeploymentDefaults.GatewayAppId], Scopes(c));
    }

    [Theory]
    [MemberData(nameof(ComponentDirs))]
    public void Resiliency_times_out_state_calls_without_retry_or_breaker_and_retries_deliveries_in_place(string dir)
    {
        var r = Load(dir, "resiliency.yaml");
        Assert.Equal("Resiliency", r["kind"].Text());
        var policies = r["spec"]!["policies"]!.AsObject();
        var retries = policies["retries"]!.AsObject();
        var timeouts = policies["timeouts"]?.AsObject() ?? [];
        var components = r["spec"]!["targets"]!["components"]!.AsObject();

        // No outbound retry and no breaker on the state store: daprd re-runs a whole failed transaction under the
        // retry (Redis applies part of it), and the breaker counts ETag conflicts between collectors as failures
        // (dapr pkg/api/grpc/grpc.go ExecuteStateTransaction; pkg/resiliency/breaker). The double's tests show
        // both effects; this keeps the shipped policy clear of them.
        var state = components[DeploymentDefaults.StateStoreName]!["outbound"]!.AsObject();
        Assert.False(state.ContainsKey("retry"), "no outbound retry on the state store");
        Assert.False(state.ContainsKey("circuitBreaker"), "no circuit breaker on the state store");
        Assert.True(timeouts.ContainsKey(state["timeout"].Text()!));

        // Inbound: enough retries to wait out a short store outage before the dead-letter topic.
        var inbound = components[DeploymentDefaults.PubSubName]!["inbound"]!;
        var inboundRetry = retries[inbound["retry"].Text()!]!;
        Assert.InRange(int.Parse(inboundRetry["maxRetries"].Text()!), 10, 100);
        Assert.Equal(Repo.AppIds.Order(StringComparer.Ordinal), Scopes(r));
    }

    [Theory]
    [MemberData(nameof(ComponentDirs))]
    public void Configuration_enables_tracing_and_metrics(string dir)
    {
        var c = Load(dir, "config.yaml");
        Assert.Equal("Configuration", c["kind"].Text());
        Assert.Equal("telemetry-config", c["metadata"]!["name"].Text());
        Assert.NotNull(c["spec"]!["tracing"]!["samplingRate"]);
        Assert.Equal("true", c["spec"]!["metric"]!["enabled"].Text());
    }

    [Fact]
    public void Compose_components_match_local_ones_except_the_redis_host()
    {
        foreach (var file in new[] { "pubsub.yaml", "statestore.yaml", "actorstate.yaml", "resiliency.yaml" })
        {
            var local = Load("components", file);
            var compose = Load("deploy/compose/components", file);
            Assert.Equal(local["metadata"]!["name"].Text(), compose["metadata"]!["name"].Text());
            Assert.Equal(Scopes(local), Scopes(compose));
            if (local["kind"].Text() != "Component")
            {
                Assert.True(JsonNode.DeepEquals(local["spec"], compose["spec"]), $"{file} differs between components/ and compose");
                continue;
            }
            Assert.Equal(local["spec"]!["type"].Text(), compose["spec"]!["type"].Text());
            var l = Metadata(local);
            var c = Metadata(compose);
            Assert.Equal("localhost:6379", l["redisHost"]);
            Assert.Equal("redis:6379", c["redisHost"]);
            l.Remove("redisHost");
            c.Remove("redisHost");
            Assert.Equal(l.OrderBy(kv => kv.Key), c.OrderBy(kv => kv.Key));
        }
    }

    [Fact]
    public void Alternatives_keep_the_names_scopes_and_key_prefix_of_what_they_replace()
    {
        var main = new[] { "pubsub.yaml", "statestore.yaml", "actorstate.yaml" }
            .Select(f => Load("components", f))
            .ToDictionary(c => c["metadata"]!["name"].Text()!);
        var files = Directory.GetFiles(Repo.PathOf("components", "alternatives"), "*.yaml");
        Assert.True(files.Length >= 4, "expected Kafka, RabbitMQ, PostgreSQL and SQLite alternatives");
        var types = new HashSet<string>();
        foreach (var file in files)
        {
            var alt = Assert.IsType<JsonObject>(Repo.LoadYamlDocuments(file).Single());
            var name = alt["metadata"]!["name"].Text()!;
            Assert.True(main.TryGetValue(name, out var original), $"{Path.GetFileName(file)} names an unknown component '{name}'");
            Assert.Equal(Scopes(original!), Scopes(alt));
            types.Add(alt["spec"]!["type"].Text()!);
            var md = Metadata(alt);
            if (name == DeploymentDefaults.StateStoreName)
            {
                Assert.Equal("name", md["keyPrefix"]);
            }
            if (name == Repo.ActorStateStoreName)
            {
                Assert.Equal("true", md["actorStateStore"]);
            }
            if (alt["spec"]!["type"].Text() == "state.postgresql")
            {
                Assert.Equal("v2", alt["spec"]!["version"].Text());
            }
        }
        Assert.Superset(new HashSet<string> { "pubsub.kafka", "pubsub.rabbitmq", "state.postgresql", "state.sqlite" }, types);
        Assert.True(File.Exists(Repo.PathOf("components", "alternatives", "README.md")));
    }

    [Fact]
    public void Every_component_is_scoped_to_known_app_ids()
    {
        var files = Repo.YamlFilesUnder("components").Concat(Repo.YamlFilesUnder("deploy/compose/components"));
        foreach (var file in files)
        {
            var doc = Assert.IsType<JsonObject>(Repo.LoadYamlDocuments(file).Single());
            if (doc["kind"].Text() == "Configuration")
            {
                continue; // Configuration has no scopes; it is selected per sidecar with --config
            }
            var scopes = Scopes(doc);
            Assert.True(scopes.Length > 0, $"{file} has no scopes");
            Assert.All(scopes, s => Assert.Contains(s, Repo.AppIds));
        }
    }
}
