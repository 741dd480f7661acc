using NJsonSchema;

namespace Telemetry.Deploy.Tests;

/// <summary>deploy/helm/telemetry-pipeline: values, schema, examples and templates (as text).</summary>
public class HelmTests
{
    private const string Chart = "deploy/helm/telemetry-pipeline";
    private static readonly JsonObject Values = Repo.LoadYaml(Chart, "values.yaml");
    private static readonly Lazy<JsonSchema> Schema =
        new(() => JsonSchema.FromJsonAsync(Repo.Read(Chart, "values.schema.json")).GetAwaiter().GetResult());

    private static string Template(string file) => Repo.Read(Chart, "templates", file);

    private static ICollection<NJsonSchema.Validation.ValidationError> Validate(JsonNode values) =>
        Schema.Value.Validate(values.ToJsonString());

    private static string[] ExampleFiles =>
        Directory.GetFiles(Repo.PathOf(Chart, "examples"), "*.yaml").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Examples => new(ExampleFiles);

    [Fact]
    public void Chart_metadata_is_helm_3()
    {
        var chart = Repo.LoadYaml(Chart, "Chart.yaml");
        Assert.Equal("v2", chart["apiVersion"].Text());
        Assert.Equal("telemetry-pipeline", chart["name"].Text());
        Assert.Matches(@"^\d+\.\d+\.\d+", chart["version"].Text());
    }

    [Fact]
    public void Default_values_validate_against_the_schema()
    {
        var errors = Validate(Values);
        Assert.True(errors.Count == 0, string.Join("; ", errors.Select(e => e.ToString())));
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_values_validate_when_layered_over_the_defaults(string file)
    {
        var overlay = Repo.LoadYaml(Chart, "examples", file);
        var errors = Validate(Repo.Merge(Values, overlay));
        Assert.True(errors.Count == 0, $"{file}: " + string.Join("; ", errors.Select(e => e.ToString())));
    }

    [Fact]
    public void There_are_external_redis_and_ten_replica_examples()
    {
        Assert.True(ExampleFiles.Length >= 2);
        var scale = Repo.Merge(Values, Repo.LoadYaml(Chart, "examples", "values-scale.yaml"));
        foreach (var app in new[] { "streamer", "collector", "gateway" })
        {
            Assert.Equal(10, scale[app]!["replicas"]!.GetValue<long>());
        }
        var external = Repo.LoadYaml(Chart, "examples", "values-external-redis.yaml");
        Assert.Equal("external", external["redis"]!["mode"].Text());
        Assert.False(string.IsNullOrEmpty(external["redis"]!["existingSecret"].Text()));
    }

    public static TheoryData<string, string> BrokenValues => new()
    {
        { "streamer.replicas", "11" },
        { "collector.replicas", "0" },
        { "gateway.replicas", "\"3\"" },
        { "collector.healthPort", "\"8080\"" },
        { "gateway.port", "70000" },
        { "redis.mode", "\"cluster\"" },
        { "collector.unknownSetting", "true" },
        { "streamer.loop", "\"yes\"" },
        { "logFormat", "\"xml\"" },
    };

    [Theory]
    [MemberData(nameof(BrokenValues))]
    public void Schema_rejects_broken_values(string path, string json)
    {
        var broken = (JsonObject)Values.DeepClone();
        var keys = path.Split('.');
        var target = keys[..^1].Aggregate((JsonNode)broken, (node, key) => node[key]!);
        target[keys[^1]] = JsonNode.Parse(json);
        Assert.NotEmpty(Validate(broken));
    }

    [Fact]
    public void Schema_requires_host_and_secret_for_external_redis()
    {
        var broken = (JsonObject)Values.DeepClone();
        broken["redis"]!["mode"] = "external";
        Assert.NotEmpty(Validate(broken));
    }

    [Fact]
    public void Values_match_service_defaults()
    {
        Assert.Equal(DeploymentDefaults.StreamerHealthPort, Values["streamer"]!["healthPort"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.StreamerMetricsPort, Values["streamer"]!["metricsPort"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.StreamerWorkers, Values["streamer"]!["workers"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.StreamerRate, Values["streamer"]!["rate"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.BatchSize, Values["streamer"]!["batchSize"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.ContainerCsvFile, Values["streamer"]!["csvFile"].Text());
        Assert.Equal(DeploymentDefaults.StreamerAppId, Values["streamer"]!["image"]!["repository"].Text());

        Assert.Equal(DeploymentDefaults.CollectorHealthPort, Values["collector"]!["healthPort"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.CollectorMetricsPort, Values["collector"]!["metricsPort"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.CollectorAppPort, Values["collector"]!["appPort"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.CollectorWorkers, Values["collector"]!["workers"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.MaxEntries, Values["collector"]!["maxEntries"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.ContainerDataDir, Values["collector"]!["dataDir"].Text());
        Assert.Equal(DeploymentDefaults.CollectorAppId, Values["collector"]!["image"]!["repository"].Text());

        Assert.Equal(DeploymentDefaults.GatewayPort, Values["gateway"]!["port"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.GatewayMetricsPort, Values["gateway"]!["metricsPort"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.MaxEntries, Values["gateway"]!["maxEntries"]!.GetValue<long>());
        Assert.Equal(DeploymentDefaults.GatewayAppId, Values["gateway"]!["image"]!["repository"].Text());

        var dapr = Values["dapr"]!;
        Assert.Equal(DeploymentDefaults.PubSubName, dapr["pubsubName"].Text());
        Assert.Equal(DeploymentDefaults.Topic, dapr["topic"].Text());
        Assert.Equal(DeploymentDefaults.DeadLetterTopic, dapr["deadLetterTopic"].Text());
        Assert.Equal(DeploymentDefaults.StateStoreName, dapr["stateStoreName"].Text());
        Assert.Equal(Repo.ActorStateStoreName, dapr["actorStateStoreName"].Text());
        Assert.Equal(Repo.LoadYaml("components", "config.yaml")["metadata"]!["name"].Text(), dapr["configName"].Text());
        Assert.True(dapr["pubsub"]!["maxLenApprox"]!.GetValue<long>() >= 1000);
    }

    [Fact]
    public void Values_hold_no_secret_material()
    {
        static IEnumerable<(string Key, JsonNode? Value)> Walk(JsonNode? node) => node switch
        {
            JsonObject o => o.SelectMany(kv => Walk(kv.Value).Prepend((kv.Key, kv.Value))),
            JsonArray a => a.SelectMany(Walk),
            _ => [],
        };
        foreach (var file in ExampleFiles.Select(f => Repo.LoadYaml(Chart, "examples", f)).Prepend(Values))
        {
            foreach (var (key, value) in Walk(file))
            {
                if (key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Equals("token", StringComparison.OrdinalIgnoreCase))
                {
                    Assert.Fail($"values must reference Secrets, not hold '{key}'");
                }
            }
        }
        Assert.DoesNotContain("value: {{ .Values.redis.password", Template("dapr-components.yaml"));
    }

    public static TheoryData<string, string, string, string> Deployments => new()
    {
        { "streamer-deployment.yaml", DeploymentDefaults.StreamerAppId, "", "health" },
        { "collector-deployment.yaml", DeploymentDefaults.CollectorAppId, "$v.appPort", "health" },
        { "gateway-deployment.yaml", DeploymentDefaults.GatewayAppId, "$v.port", "http" },
    };

    [Theory]
    [MemberData(nameof(Deployments))]
    public void Deployment_carries_dapr_annotations_probes_and_hardening(string file, string appId, string appPortValue, string probePort)
    {
        var text = Template(file);
        Assert.Contains($"dapr.io/app-id: \"{appId}\"", text);
        if (appPortValue.Length > 0)
        {
            Assert.Contains($"dapr.io/app-port: {{{{ {appPortValue} | quote }}}}", text);
        }
        else
        {
            Assert.DoesNotContain("dapr.io/app-port:", text);
        }
        Assert.Contains("include \"telemetry.daprCommon\"", text);
        Assert.Contains("replicas: {{ $v.replicas }}", text);
        Assert.Contains("path: /health\n", text);
        Assert.Contains("path: /health/ready\n", text);
        Assert.Contains($"port: {probePort}", text);
        Assert.Contains("include \"telemetry.podSecurityContext\"", text);
        Assert.Contains("include \"telemetry.containerSecurityContext\"", text);
        Assert.Contains("mountPath: /tmp", text);
        Assert.Contains("emptyDir: {}", text);
        Assert.Contains("toYaml $v.resources", text);
    }

    [Fact]
    public void Deployments_set_the_port_environment_from_values()
    {
        var streamer = Template("streamer-deployment.yaml");
        Assert.Contains("name: HEALTH_PORT\n              value: {{ $v.healthPort | quote }}", streamer);
        Assert.Contains("name: METRICS_PORT\n              value: {{ $v.metricsPort | quote }}", streamer);
        var collector = Template("collector-deployment.yaml");
        Assert.Contains("name: BROKER_PORT\n              value: {{ $v.appPort | quote }}", collector);
        Assert.Contains("name: HEALTH_PORT\n              value: {{ $v.healthPort | quote }}", collector);
        Assert.Contains("name: DAPR_DEADLETTER_TOPIC", collector);
        var gateway = Template("gateway-deployment.yaml");
        Assert.Contains("name: PORT\n              value: {{ $v.port | quote }}", gateway);
        Assert.Contains("name: METRICS_PORT\n              value: {{ $v.metricsPort | quote }}", gateway);
    }

    [Fact]
    public void Helpers_define_dapr_annotations_and_security_context()
    {
        var helpers = Template("_helpers.tpl");
        foreach (var needle in new[]
                 {
                     "dapr.io/enabled: \"true\"", "dapr.io/config:", "dapr.io/enable-metrics: \"true\"", "dapr.io/metrics-port:",
                     "dapr.io/sidecar-cpu-request:", "dapr.io/sidecar-memory-request:", "dapr.io/sidecar-cpu-limit:",
                     "dapr.io/sidecar-memory-limit:", "dapr.io/app-token-secret:",
                     "runAsNonRoot: true", "runAsUser: 1000", "readOnlyRootFilesystem: true",
                     "allowPrivilegeEscalation: false", "drop: [\"ALL\"]",
                 })
        {
            Assert.Contains(needle, helpers);
        }
    }

    [Fact]
    public void Dapr_resources_are_rendered_from_values()
    {
        var components = Template("dapr-components.yaml");
        Assert.Contains("name: {{ $d.pubsubName }}", components);
        Assert.Contains("name: {{ $d.stateStoreName }}", components);
        Assert.Contains("name: {{ $d.actorStateStoreName }}", components);
        Assert.Contains("name: maxLenApprox", components);
        Assert.Contains("name: keyPrefix\n      value: name", components);
        Assert.Contains("name: actorStateStore\n      value: \"true\"", components);
        Assert.Contains("secretKeyRef:", components);
        foreach (var id in Repo.AppIds)
        {
            Assert.Contains($"  - {id}", components);
        }
        var resiliency = Template("dapr-resiliency.yaml");
        Assert.Contains("{{ $d.stateStoreName }}:", resiliency);
        Assert.Contains("{{ $d.pubsubName }}:", resiliency);
        Assert.Contains("inbound:", resiliency);
        Assert.DoesNotContain("circuitBreaker", resiliency); // see ComponentTests: conflicts would trip it
        var config = Template("dapr-configuration.yaml");
        Assert.Contains("kind: Configuration", config);
        Assert.Contains("name: {{ $d.configName }}", config);
        Assert.Contains("enabled: true", config);
    }

    [Fact]
    public void Services_pdb_hpa_redis_and_notes_exist()
    {
        var services = Template("services.yaml");
        Assert.Contains("port: {{ .Values.gateway.port }}", services);
        Assert.Contains("port: {{ .Values.collector.healthPort }}", services);
        Assert.Contains("kind: PodDisruptionBudget", Template("collector-pdb.yaml"));
        Assert.Contains("kind: HorizontalPodAutoscaler", Template("hpa.yaml"));
        var redis = Template("redis.yaml");
        Assert.Contains("secretKeyRef:", redis);
        Assert.Contains("randAlphaNum", redis);
        var notes = Template("NOTES.txt");
        Assert.Contains("kubectl port-forward", notes);
        Assert.Contains("curl http://localhost:{{ .Values.gateway.port }}", notes);
    }
}
