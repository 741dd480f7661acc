namespace Telemetry.Deploy.Tests;

/// <summary>dapr.yaml, the multi-app run template.</summary>
public class DaprRunTemplateTests
{
    private static readonly JsonObject Template = Repo.LoadYaml("dapr.yaml");

    private static JsonObject App(string id) =>
        Template["apps"]!.AsArray().Select(a => a!.AsObject()).Single(a => a["appID"].Text() == id);

    private static string? Env(string id, string name) =>
        App(id)["env"]?[name].Text() ?? Template["common"]!["env"]?[name].Text();

    [Fact]
    public void Template_points_at_existing_resources_and_config()
    {
        Assert.Equal("1", Template["version"].Text());
        var common = Template["common"]!;
        Assert.True(Directory.Exists(Repo.PathOf(common["resourcesPath"].Text()!)));
        Assert.True(File.Exists(Repo.PathOf(common["configFilePath"].Text()!)));
        Assert.Equal(Repo.AppIds.Order(StringComparer.Ordinal),
            Template["apps"]!.AsArray().Select(a => a!["appID"].Text()!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void App_ports_match_service_defaults()
    {
        Assert.Equal(DeploymentDefaults.CollectorAppPort.ToString(), App(DeploymentDefaults.CollectorAppId)["appPort"].Text());
        Assert.Equal(DeploymentDefaults.GatewayPort.ToString(), App(DeploymentDefaults.GatewayAppId)["appPort"].Text());
        var streamerPort = App(DeploymentDefaults.StreamerAppId)["appPort"].Text();
        Assert.True(streamerPort is null || streamerPort == DeploymentDefaults.StreamerHealthPort.ToString());
    }

    [Fact]
    public void Sidecar_ports_are_distinct_and_do_not_collide_with_app_ports()
    {
        var appPorts = new[]
        {
            DeploymentDefaults.GatewayPort, DeploymentDefaults.GatewayMetricsPort, DeploymentDefaults.CollectorHealthPort,
            DeploymentDefaults.CollectorMetricsPort, DeploymentDefaults.CollectorAppPort, DeploymentDefaults.StreamerHealthPort,
            DeploymentDefaults.StreamerMetricsPort,
        }.Select(p => p.ToString());
        var sidecar = Template["apps"]!.AsArray()
            .SelectMany(a => new[] { a!["daprHTTPPort"].Text(), a["daprGRPCPort"].Text(), a["metricsPort"].Text() })
            .ToList();
        Assert.All(sidecar, p => Assert.NotNull(p));
        Assert.Equal(sidecar.Count, sidecar.Distinct().Count());
        Assert.Empty(sidecar.Intersect(appPorts));
    }

    [Fact]
    public void Environment_matches_service_defaults()
    {
        const string s = DeploymentDefaults.StreamerAppId, c = DeploymentDefaults.CollectorAppId, g = DeploymentDefaults.GatewayAppId;
        foreach (var id in Repo.AppIds)
        {
            Assert.Equal(DeploymentDefaults.StateStoreName, Env(id, "DAPR_STATE_STORE"));
            Assert.Equal("Information", Env(id, "LOG_LEVEL"));
        }
        Assert.Equal(DeploymentDefaults.PubSubName, Env(s, "DAPR_PUBSUB_NAME"));
        Assert.Equal(DeploymentDefaults.Topic, Env(s, "DAPR_TOPIC"));
        Assert.Equal(DeploymentDefaults.PubSubName, Env(c, "DAPR_PUBSUB_NAME"));
        Assert.Equal(DeploymentDefaults.Topic, Env(c, "DAPR_TOPIC"));
        Assert.Equal(DeploymentDefaults.DeadLetterTopic, Env(c, "DAPR_DEADLETTER_TOPIC"));

        Assert.Equal(DeploymentDefaults.StreamerHealthPort.ToString(), Env(s, "HEALTH_PORT"));
        Assert.Equal(DeploymentDefaults.StreamerMetricsPort.ToString(), Env(s, "METRICS_PORT"));
        Assert.Equal(DeploymentDefaults.StreamerWorkers.ToString(), Env(s, "WORKERS"));
        Assert.Equal(DeploymentDefaults.StreamerRate, double.Parse(Env(s, "RATE")!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(DeploymentDefaults.BatchSize.ToString(), Env(s, "BATCH_SIZE"));

        Assert.Equal(DeploymentDefaults.CollectorHealthPort.ToString(), Env(c, "HEALTH_PORT"));
        Assert.Equal(DeploymentDefaults.CollectorMetricsPort.ToString(), Env(c, "METRICS_PORT"));
        Assert.Equal(DeploymentDefaults.CollectorAppPort.ToString(), Env(c, "BROKER_PORT"));
        Assert.Equal(DeploymentDefaults.CollectorWorkers.ToString(), Env(c, "WORKERS"));
        Assert.Equal(DeploymentDefaults.MaxEntries.ToString(), Env(c, "MAX_ENTRIES"));

        Assert.Equal(DeploymentDefaults.GatewayPort.ToString(), Env(g, "PORT"));
        Assert.Equal(DeploymentDefaults.GatewayMetricsPort.ToString(), Env(g, "METRICS_PORT"));
        Assert.Equal(DeploymentDefaults.MaxEntries.ToString(), Env(g, "MAX_ENTRIES"));
    }

    [Fact]
    public void Csv_file_resolves_from_the_streamer_folder_to_the_shipped_sample()
    {
        var app = App(DeploymentDefaults.StreamerAppId);
        var dir = Repo.PathOf(app["appDirPath"].Text()!);
        var csv = Path.GetFullPath(Path.Combine(dir, Env(DeploymentDefaults.StreamerAppId, "CSV_FILE")!));
        Assert.Equal(Repo.PathOf("data", "dcgm_metrics_20250718_134233.csv"), csv);
        Assert.True(File.Exists(csv));
    }

    [Fact]
    public void Each_app_runs_its_own_project()
    {
        var expected = new Dictionary<string, string>
        {
            [DeploymentDefaults.StreamerAppId] = "Telemetry.Streamer.Dapr",
            [DeploymentDefaults.CollectorAppId] = "Telemetry.Collector.Dapr",
            [DeploymentDefaults.GatewayAppId] = "Telemetry.Gateway.Dapr",
        };
        foreach (var (id, project) in expected)
        {
            var app = App(id);
            var dir = app["appDirPath"].Text()!.TrimEnd('/');
            Assert.Equal($"./services/{project}", dir);
            var command = app["command"]!.AsArray().Select(x => x.Text()).ToList();
            Assert.Equal("dotnet", command[0]);
            Assert.Contains($"{project}.csproj", command);
        }
    }

    /// <summary>
    /// The three apps share projects (Core, Hosting, Dapr): three `dotnet run` builds started together by
    /// `dapr run -f` race on the same obj/ folders. The run template has no pre-build step (dapr/cli
    /// pkg/standalone/run.go, RunConfig: one command per app), so each app runs prebuilt and `make dapr-build`
    /// builds exactly those projects once, in the configuration the commands run.
    /// </summary>
    [Fact]
    public void Apps_run_prebuilt_and_one_make_target_builds_exactly_them()
    {
        var mk = Repo.Read("deploy", "deploy.mk");
        var appsLine = mk.Split('\n').Single(l => l.StartsWith("DAPR_APPS :=", StringComparison.Ordinal));
        var built = appsLine["DAPR_APPS :=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToList();
        var run = Template["apps"]!.AsArray().Select(a => a!["appDirPath"].Text()!.TrimStart('.', '/').TrimEnd('/')).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(run, built);

        var recipe = mk[mk.IndexOf("\ndapr-build:", StringComparison.Ordinal)..];
        Assert.Contains("dotnet build $$app -c Release", recipe);
        Assert.Contains("dapr-run: dapr-build", mk);
        foreach (var app in Template["apps"]!.AsArray())
        {
            var command = app!["command"]!.AsArray().Select(x => x.Text()!).ToList();
            Assert.True(command.Contains("--no-build"), $"{app["appID"].Text()}: `dotnet run` without --no-build builds shared projects in parallel with the other apps");
            var c = command.IndexOf("-c");
            Assert.True(c >= 0 && command[c + 1] == "Release", $"{app["appID"].Text()}: run the configuration make dapr-build builds (-c Release)");
        }
    }
}
