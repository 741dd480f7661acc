using System.Text.RegularExpressions;

namespace Telemetry.Deploy.Tests;

/// <summary>deploy/compose/docker-compose.yml.</summary>
public partial class ComposeTests
{
    private static readonly JsonObject Compose = Repo.LoadYaml("deploy", "compose", "docker-compose.yml");
    private static JsonObject Services => Compose["services"]!.AsObject();
    private static string ComposeDir => Repo.PathOf("deploy", "compose");

    /// <summary>Compose service that runs each app (the app id doubles as the service name).</summary>
    private static readonly Dictionary<string, string> AppService = Repo.AppIds.ToDictionary(id => id, id => id);

    [GeneratedRegex(@"^\$\{(?<name>[A-Z_][A-Z0-9_]*)(:?-(?<def>[^}]*))?\}$")]
    private static partial Regex Interpolation();

    /// <summary>Value compose would use with no .env: the ${VAR:-default} default, or the literal.</summary>
    private static string? EnvDefault(string service, string name)
    {
        var raw = Services[service]!["environment"]?[name].Text();
        if (raw is null)
        {
            return null;
        }
        var m = Interpolation().Match(raw);
        return m.Success ? m.Groups["def"].Value : raw;
    }

    private static List<string> Args(string service) =>
        Services[service]!["command"]!.AsArray().Select(a => a.Text()!).ToList();

    private static string? Flag(List<string> args, string flag)
    {
        var i = args.IndexOf(flag);
        return i >= 0 && i + 1 < args.Count ? args[i + 1] : null;
    }

    private static IEnumerable<string> Sidecars =>
        Services.Where(kv => kv.Value!["image"].Text()!.StartsWith("daprio/daprd:", StringComparison.Ordinal)).Select(kv => kv.Key);

    [Fact]
    public void Network_mode_and_depends_on_reference_existing_services()
    {
        foreach (var (name, service) in Services)
        {
            if (service!["network_mode"].Text() is { } mode)
            {
                Assert.StartsWith("service:", mode);
                Assert.True(Services.ContainsKey(mode["service:".Length..]), $"{name}: network_mode points at a missing service");
                Assert.Null(service["networks"]); // a shared namespace cannot join networks
                Assert.Null(service["ports"]);
            }
            var deps = service["depends_on"] switch
            {
                JsonObject o => o.Select(kv => kv.Key),
                JsonArray a => a.Select(x => x.Text()!),
                _ => [],
            };
            foreach (var dep in deps)
            {
                Assert.True(Services.ContainsKey(dep), $"{name} depends on missing service {dep}");
            }
            if (service["depends_on"] is JsonObject conditions)
            {
                foreach (var (dep, cond) in conditions)
                {
                    if (cond!["condition"].Text() == "service_healthy")
                    {
                        Assert.True(Services[dep]!["healthcheck"] is not null, $"{name} waits for {dep} to be healthy but it has no healthcheck");
                    }
                }
            }
        }
    }

    [Fact]
    public void Every_app_has_one_sidecar_with_matching_app_id_and_port()
    {
        var sidecars = Sidecars.ToList();
        Assert.Equal(3, sidecars.Count);
        var byAppId = sidecars.ToDictionary(s => Flag(Args(s), "-app-id")!);
        Assert.Equal(Repo.AppIds.Order(StringComparer.Ordinal), byAppId.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(DeploymentDefaults.CollectorAppPort.ToString(), Flag(Args(byAppId[DeploymentDefaults.CollectorAppId]), "-app-port"));
        Assert.Equal(DeploymentDefaults.GatewayPort.ToString(), Flag(Args(byAppId[DeploymentDefaults.GatewayAppId]), "-app-port"));
        var streamerPort = Flag(Args(byAppId[DeploymentDefaults.StreamerAppId]), "-app-port");
        Assert.True(streamerPort is null || streamerPort == DeploymentDefaults.StreamerHealthPort.ToString());
    }

    /// <summary>
    /// A container started with network_mode service:/container: joins that container's network namespace once;
    /// when the app container restarts (crash under restart: unless-stopped, docker restart, a recreate) it gets a
    /// new namespace and the sidecar is left in the old one, cut off from its app until it is recreated too. Every
    /// container here has its own network identity instead.
    /// </summary>
    [Fact]
    public void No_container_shares_another_containers_network_namespace()
    {
        foreach (var (name, service) in Services)
        {
            var mode = service!["network_mode"].Text();
            Assert.False(mode is not null && (mode.StartsWith("service:", StringComparison.Ordinal) || mode.StartsWith("container:", StringComparison.Ordinal)),
                $"{name}: network_mode '{mode}' is orphaned when that container restarts; give it its own network identity");
        }
    }

    /// <summary>With their own network identities, app and sidecar find each other by service name: the app
    /// through the Dapr SDK's DAPR_GRPC_ENDPOINT / DAPR_HTTP_ENDPOINT, the sidecar through daprd's
    /// -app-channel-address (default 127.0.0.1, which would be the sidecar itself: dapr/dapr
    /// cmd/daprd/options/options.go). daprd's API listens on every interface by default (dapr/dapr
    /// pkg/runtime/config.go, DefaultAPIListenAddress), so the app reaches it over telemetry-net.</summary>
    [Fact]
    public void Apps_and_sidecars_address_each_other_by_service_name_on_one_network()
    {
        foreach (var sidecar in Sidecars)
        {
            var args = Args(sidecar);
            var app = AppService[Flag(args, "-app-id")!];
            Assert.Contains("telemetry", Services[sidecar]!["networks"]!.AsArray().Select(n => n.Text()));
            Assert.Contains("telemetry", Services[app]!["networks"]!.AsArray().Select(n => n.Text()));
            Assert.Null(Flag(args, "-dapr-listen-addresses")); // default: all interfaces
            if (Flag(args, "-app-port") is not null)
            {
                Assert.Equal(app, Flag(args, "-app-channel-address"));
            }
            Assert.Equal($"http://{sidecar}:{Flag(args, "-dapr-grpc-port")}", EnvDefault(app, "DAPR_GRPC_ENDPOINT"));
            Assert.Equal($"http://{sidecar}:{Flag(args, "-dapr-http-port")}", EnvDefault(app, "DAPR_HTTP_ENDPOINT"));
            Assert.Null(Services[sidecar]!["ports"]); // the sidecar API stays inside telemetry-net
        }
    }

    [Fact]
    public void Sidecars_load_mounted_components_config_and_control_plane()
    {
        var placement = Services["placement"]!;
        var scheduler = Services["scheduler"]!;
        foreach (var sidecar in Sidecars)
        {
            var args = Args(sidecar);
            var resources = Flag(args, "-resources-path")!;
            var mount = Services[sidecar]!["volumes"]!.AsArray().Select(v => v.Text()!)
                .Single(v => v.Split(':')[1] == resources);
            var hostDir = Path.GetFullPath(Path.Combine(ComposeDir, mount.Split(':')[0]));
            Assert.Equal(Repo.PathOf("deploy", "compose", "components"), hostDir);
            var config = Flag(args, "-config")!;
            Assert.StartsWith(resources + "/", config);
            Assert.True(File.Exists(Path.Combine(hostDir, config[(resources.Length + 1)..])), $"{sidecar}: config file missing");

            var placementAddress = Flag(args, "-placement-host-address")!;
            Assert.Equal("placement", placementAddress.Split(':')[0]);
            Assert.Contains(placementAddress.Split(':')[1], placement["command"]!.AsArray().Select(a => a.Text()));
            var schedulerAddress = Flag(args, "-scheduler-host-address")!;
            Assert.Equal("scheduler", schedulerAddress.Split(':')[0]);
            Assert.Contains(schedulerAddress.Split(':')[1], scheduler["command"]!.AsArray().Select(a => a.Text()));
        }
    }

    [Fact]
    public void Dapr_images_are_pinned_to_one_release()
    {
        var images = Services.Select(kv => kv.Value!["image"].Text()!)
            .Where(i => i.StartsWith("daprio/daprd:", StringComparison.Ordinal)
                        || i.StartsWith("daprio/placement:", StringComparison.Ordinal)
                        || i.StartsWith("daprio/scheduler:", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(5, images.Count);
        var versions = images.Select(i => i.Split(':')[1]).Distinct().ToList();
        Assert.Single(versions);
        Assert.Matches(@"^1\.18\.\d+$", versions[0]);
        Assert.Matches(@"^daprio/dashboard:\d+\.\d+\.\d+$", Services["dashboard"]!["image"].Text());
    }

    [Fact]
    public void App_images_build_from_the_repo_root_with_existing_dockerfiles()
    {
        var expected = new Dictionary<string, string>
        {
            [DeploymentDefaults.StreamerAppId] = "services/Telemetry.Streamer.Dapr/Dockerfile",
            [DeploymentDefaults.CollectorAppId] = "services/Telemetry.Collector.Dapr/Dockerfile",
            [DeploymentDefaults.GatewayAppId] = "services/Telemetry.Gateway.Dapr/Dockerfile",
        };
        foreach (var (appId, dockerfile) in expected)
        {
            var service = Services[AppService[appId]]!;
            Assert.StartsWith(appId + ":", service["image"].Text());
            var context = Path.GetFullPath(Path.Combine(ComposeDir, service["build"]!["context"].Text()!));
            Assert.Equal(Repo.Root.TrimEnd('/'), context.TrimEnd('/'));
            Assert.Equal(dockerfile, service["build"]!["dockerfile"].Text());
            Assert.True(File.Exists(Path.Combine(context, dockerfile)));
        }
    }

    [Fact]
    public void Published_ports_and_environment_match_service_defaults()
    {
        static string[] Ports(string service) =>
            Services[service]!["ports"]!.AsArray().Select(p => p.Text()!).Order(StringComparer.Ordinal).ToArray();

        const string s = DeploymentDefaults.StreamerAppId, c = DeploymentDefaults.CollectorAppId, g = DeploymentDefaults.GatewayAppId;
        Assert.Equal(new[] { $"{DeploymentDefaults.GatewayPort}:{DeploymentDefaults.GatewayPort}", $"{DeploymentDefaults.GatewayMetricsPort}:{DeploymentDefaults.GatewayMetricsPort}" }.Order(StringComparer.Ordinal), Ports(g));
        Assert.Equal(new[] { $"{DeploymentDefaults.CollectorHealthPort}:{DeploymentDefaults.CollectorHealthPort}", $"{DeploymentDefaults.CollectorMetricsPort}:{DeploymentDefaults.CollectorMetricsPort}" }.Order(StringComparer.Ordinal), Ports(c));
        Assert.Equal(new[] { $"{DeploymentDefaults.StreamerHealthPort}:{DeploymentDefaults.StreamerHealthPort}", $"{DeploymentDefaults.StreamerMetricsPort}:{DeploymentDefaults.StreamerMetricsPort}" }.Order(StringComparer.Ordinal), Ports(s));

        foreach (var id in Repo.AppIds)
        {
            Assert.Equal(DeploymentDefaults.StateStoreName, EnvDefault(id, "DAPR_STATE_STORE"));
            Assert.Equal("Information", EnvDefault(id, "LOG_LEVEL"));
        }
        Assert.Equal(DeploymentDefaults.PubSubName, EnvDefault(s, "DAPR_PUBSUB_NAME"));
        Assert.Equal(DeploymentDefaults.Topic, EnvDefault(s, "DAPR_TOPIC"));
        Assert.Equal(DeploymentDefaults.ContainerCsvFile, EnvDefault(s, "CSV_FILE"));
        Assert.Equal(DeploymentDefaults.StreamerWorkers.ToString(), EnvDefault(s, "WORKERS"));
        Assert.Equal(DeploymentDefaults.StreamerRate.ToString(System.Globalization.CultureInfo.InvariantCulture), EnvDefault(s, "RATE"));
        Assert.Equal(DeploymentDefaults.BatchSize.ToString(), EnvDefault(s, "BATCH_SIZE"));
        Assert.Equal(DeploymentDefaults.StreamerHealthPort.ToString(), EnvDefault(s, "HEALTH_PORT"));
        Assert.Equal(DeploymentDefaults.StreamerMetricsPort.ToString(), EnvDefault(s, "METRICS_PORT"));

        Assert.Equal(DeploymentDefaults.DeadLetterTopic, EnvDefault(c, "DAPR_DEADLETTER_TOPIC"));
        Assert.Equal(DeploymentDefaults.CollectorWorkers.ToString(), EnvDefault(c, "WORKERS"));
        Assert.Equal(DeploymentDefaults.MaxEntries.ToString(), EnvDefault(c, "MAX_ENTRIES"));
        Assert.Equal(DeploymentDefaults.ContainerDataDir, EnvDefault(c, "DATA_DIR"));
        Assert.Equal(DeploymentDefaults.CollectorHealthPort.ToString(), EnvDefault(c, "HEALTH_PORT"));
        Assert.Equal(DeploymentDefaults.CollectorMetricsPort.ToString(), EnvDefault(c, "METRICS_PORT"));
        Assert.Equal(DeploymentDefaults.CollectorAppPort.ToString(), EnvDefault(c, "BROKER_PORT"));
        Assert.Equal("", EnvDefault(c, "APP_API_TOKEN"));

        Assert.Equal(DeploymentDefaults.GatewayPort.ToString(), EnvDefault(g, "PORT"));
        Assert.Equal(DeploymentDefaults.GatewayMetricsPort.ToString(), EnvDefault(g, "METRICS_PORT"));
        Assert.Equal(DeploymentDefaults.MaxEntries.ToString(), EnvDefault(g, "MAX_ENTRIES"));
        Assert.Equal("", EnvDefault(g, "API_KEY"));
        Assert.Equal("", EnvDefault(g, "CORS_ORIGINS"));
    }

    /// <summary>The check reads its port from a variable the container sets to the health port (running the
    /// commands against a real host is <see cref="HealthCheckCommandTests"/>).</summary>
    [Fact]
    public void App_healthchecks_probe_each_apps_health_port()
    {
        var healthPort = new Dictionary<string, int>
        {
            [DeploymentDefaults.StreamerAppId] = DeploymentDefaults.StreamerHealthPort,
            [DeploymentDefaults.CollectorAppId] = DeploymentDefaults.CollectorHealthPort,
            [DeploymentDefaults.GatewayAppId] = DeploymentDefaults.GatewayPort,
        };
        foreach (var (appId, port) in healthPort)
        {
            var test = string.Join(' ', Services[AppService[appId]]!["healthcheck"]!["test"]!.AsArray().Select(t => t.Text()));
            var variable = Regex.Match(test, @"/dev/tcp/127\.0\.0\.1/\$\$\{([A-Z_]+)\}");
            Assert.True(variable.Success, $"{appId}: the health check does not read its port from a variable: {test}");
            Assert.Equal(port.ToString(), EnvDefault(AppService[appId], variable.Groups[1].Value));
            Assert.Contains("GET /health ", test);
            Assert.Contains("Host: 127.0.0.1:%s", test);
        }
        Assert.NotNull(Services["redis"]!["healthcheck"]);
    }

    [Fact]
    public void Redis_and_dashboard_are_wired_up()
    {
        var redis = Services["redis"]!;
        var redisVolume = redis["volumes"]!.AsArray().Single()!.Text()!.Split(':')[0];
        Assert.True(Compose["volumes"]!.AsObject().ContainsKey(redisVolume), "Redis data must live in a named volume");
        Assert.NotNull(Compose["networks"]!["telemetry"]);

        var dashboard = Services["dashboard"]!;
        var args = dashboard["command"]!.AsArray().Select(a => a.Text()!).ToList();
        Assert.Contains("--docker-compose=true", args);
        foreach (var mount in dashboard["volumes"]!.AsArray().Select(v => v.Text()!))
        {
            Assert.True(Path.Exists(Path.Combine(ComposeDir, mount.Split(':')[0])), $"dashboard mounts missing {mount}");
        }
    }

    [Fact]
    public void Scripts_are_strict_and_executable()
    {
        foreach (var script in new[] { "deploy/compose/build-and-push.sh", "deploy/compose/setup.sh", "deploy/helm/kind-quickstart.sh" })
        {
            var text = Repo.Read(script);
            Assert.StartsWith("#!/usr/bin/env bash", text);
            Assert.Contains("set -euo pipefail", text);
            if (!OperatingSystem.IsWindows())
            {
                Assert.True((File.GetUnixFileMode(Repo.PathOf(script)) & UnixFileMode.UserExecute) != 0, $"{script} is not executable");
            }
        }
        Assert.Contains("-t", Repo.Read("deploy/compose/build-and-push.sh"));
        Assert.Contains("localhost:${REGISTRY_PORT}", Repo.Read("deploy/compose/build-and-push.sh"));
        Assert.Contains("Troubleshooting", Repo.Read("deploy/compose/README.md"));
    }
}
