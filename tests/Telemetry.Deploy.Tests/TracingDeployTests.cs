using NJsonSchema;
using Telemetry.Hosting.Observability;

namespace Telemetry.Deploy.Tests;

/// <summary>Where traces go in each deployment: compose sends the services' and the sidecars' spans to one Jaeger;
/// the Helm chart exports the services' only when otel.endpoint is set.</summary>
public class TracingDeployTests
{
    private const string Chart = "deploy/helm/telemetry-pipeline";
    private static readonly JsonObject Compose = Repo.LoadYaml("deploy", "compose", "docker-compose.yml");
    private static JsonObject Services => Compose["services"]!.AsObject();

    /// <summary>The ${VAR-default} default compose uses when the variable is unset, or the literal value.</summary>
    private static string? EnvDefault(string service, string name)
    {
        var raw = Services[service]!["environment"]?[name].Text();
        if (raw is null || !raw.StartsWith("${", StringComparison.Ordinal)) return raw;
        var dash = raw.IndexOf('-', StringComparison.Ordinal);
        return dash < 0 ? null : raw[(dash + 1)..^1];
    }

    [Fact]
    public void Compose_services_export_their_traces_over_otlp_grpc_to_the_jaeger_service()
    {
        var jaeger = Services["jaeger"]!;
        Assert.StartsWith("cr.jaegertracing.io/jaegertracing/jaeger:2.", jaeger["image"].Text());
        Assert.Contains(jaeger["ports"]!.AsArray(), port => port.Text() == "16686:16686"); // the UI; OTLP stays inside the network
        foreach (var app in Repo.AppIds)
        {
            var endpoint = EnvDefault(app, ObservabilityExtensions.EndpointSetting);
            Assert.True(endpoint == "http://jaeger:4317", $"{app}: {ObservabilityExtensions.EndpointSetting} defaults to '{endpoint}'");
            // ${VAR-default}, not ${VAR:-default}: setting it empty turns tracing off instead of falling back.
            Assert.DoesNotContain(":-", Services[app]!["environment"]![ObservabilityExtensions.EndpointSetting].Text());
            Assert.Contains(Services[app]!["networks"]!.AsArray().Select(n => n.Text()), network => jaeger["networks"]!.AsArray().Any(j => j.Text() == network));
        }
    }

    [Fact]
    public void Compose_sidecars_send_their_spans_to_the_same_jaeger_and_sample_every_trace()
    {
        var tracing = Repo.LoadYaml("deploy", "compose", "components", "config.yaml")["spec"]!["tracing"]!;
        // dapr docs (operations/observability/tracing/setup-tracing): otel.endpointAddress is host:port, isSecure and protocol beside it.
        Assert.Equal("jaeger:4317", tracing["otel"]!["endpointAddress"].Text());
        Assert.Equal("false", tracing["otel"]!["isSecure"].Text());
        Assert.Equal("grpc", tracing["otel"]!["protocol"].Text());
        Assert.Null(tracing["zipkin"]);
        // The collector's spans follow the sampled flag of the traceparent its sidecar hands on.
        Assert.Equal("1", tracing["samplingRate"].Text());
    }

    [Fact]
    public void Helm_exports_the_services_traces_only_when_otel_endpoint_is_set()
    {
        var values = Repo.LoadYaml(Chart, "values.yaml");
        Assert.Equal("", values["otel"]!["endpoint"].Text());

        var helpers = Repo.Read(Chart, "templates", "_helpers.tpl");
        var commonEnv = helpers[helpers.IndexOf("define \"telemetry.commonEnv\"", StringComparison.Ordinal)..];
        commonEnv = commonEnv[..commonEnv.IndexOf("{{- end -}}", StringComparison.Ordinal)];
        Assert.Contains("{{- if .Values.otel.endpoint }}\n- name: " + ObservabilityExtensions.EndpointSetting + "\n  value: {{ .Values.otel.endpoint | quote }}", commonEnv);
        foreach (var deployment in new[] { "streamer-deployment.yaml", "collector-deployment.yaml", "gateway-deployment.yaml" })
        {
            Assert.Contains("include \"telemetry.commonEnv\"", Repo.Read(Chart, "templates", deployment));
        }
    }

    [Theory]
    [InlineData("\"http://jaeger-collector.observability.svc.cluster.local:4317\"", true)]
    [InlineData("\"https://otlp.example.com\"", true)]
    [InlineData("\"\"", true)]
    [InlineData("\"jaeger:4317\"", false)] // the services would refuse it at start-up: no http(s) scheme
    [InlineData("4317", false)]
    public async Task Helm_schema_accepts_only_an_http_url_or_nothing_as_otel_endpoint(string json, bool accepted)
    {
        var schema = await JsonSchema.FromJsonAsync(Repo.Read(Chart, "values.schema.json"));
        var values = (JsonObject)Repo.LoadYaml(Chart, "values.yaml").DeepClone();
        values["otel"]!["endpoint"] = JsonNode.Parse(json);
        var errors = schema.Validate(values.ToJsonString());
        Assert.True(accepted == (errors.Count == 0), $"otel.endpoint={json}: {string.Join("; ", errors.Select(e => e.ToString()))}");
    }
}
