using System.Text.RegularExpressions;

namespace Telemetry.Deploy.Tests;

/// <summary>The three service Dockerfiles and the root .dockerignore.</summary>
public partial class DockerfileTests
{
    public sealed record Image(string Project, int[] Ports, string HealthPortVariable, int HealthPort);

    private static readonly Dictionary<string, Image> Images = new()
    {
        ["Telemetry.Streamer.Dapr"] = new("Telemetry.Streamer.Dapr",
            [DeploymentDefaults.StreamerHealthPort, DeploymentDefaults.StreamerMetricsPort], "HEALTH_PORT", DeploymentDefaults.StreamerHealthPort),
        ["Telemetry.Collector.Dapr"] = new("Telemetry.Collector.Dapr",
            [DeploymentDefaults.CollectorHealthPort, DeploymentDefaults.CollectorMetricsPort, DeploymentDefaults.CollectorAppPort], "HEALTH_PORT", DeploymentDefaults.CollectorHealthPort),
        ["Telemetry.Gateway.Dapr"] = new("Telemetry.Gateway.Dapr",
            [DeploymentDefaults.GatewayPort, DeploymentDefaults.GatewayMetricsPort], "PORT", DeploymentDefaults.GatewayPort),
    };

    public static TheoryData<string> Projects => new(Images.Keys);

    /// <summary>Instructions with line continuations joined and comments dropped.</summary>
    private static List<(string Op, string Args)> Instructions(string project)
    {
        var text = Regex.Replace(Repo.Read("services", project, "Dockerfile"), @"\\\r?\n", " ");
        return text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => { var i = l.IndexOf(' '); return (l[..i].ToUpperInvariant(), l[(i + 1)..].Trim()); })
            .ToList();
    }

    private static List<(string Op, string Args)> FinalStage(string project)
    {
        var all = Instructions(project);
        var lastFrom = all.FindLastIndex(i => i.Op == "FROM");
        return all[lastFrom..];
    }

    private static Dictionary<string, string> Env(IEnumerable<(string Op, string Args)> stage) =>
        stage.Where(i => i.Op == "ENV")
            .SelectMany(i => EnvPair().Matches(i.Args))
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(""[^""]*""|\S+)")]
    private static partial Regex EnvPair();

    [Theory]
    [MemberData(nameof(Projects))]
    public void Builds_with_sdk_and_runs_on_aspnet(string project)
    {
        var froms = Instructions(project).Where(i => i.Op == "FROM").Select(i => i.Args.Split(' ')[0]).ToList();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/aspnet:10.0"], froms);
        var publish = Instructions(project).Single(i => i.Op == "RUN" && i.Args.Contains("dotnet publish")).Args;
        Assert.Contains($"services/{project}/{project}.csproj", publish);
        Assert.Contains("-c Release", publish);
        Assert.Contains("-o /app", publish);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Final_image_is_non_root_and_holds_only_the_published_app(string project)
    {
        var final = FinalStage(project);
        Assert.Equal("1000:1000", final.Last(i => i.Op == "USER").Args);
        var copies = final.Where(i => i.Op == "COPY").Select(i => i.Args).ToList();
        Assert.Contains(copies, c => c.Contains("--from=build") && c.Contains("/app"));
        Assert.All(copies.Where(c => !c.Contains("--from=")), c => Assert.Contains("data/", c)); // only the sample CSV
        Assert.Equal($"[\"dotnet\", \"{project}.dll\"]", final.Single(i => i.Op == "ENTRYPOINT").Args);
        var env = Env(final);
        Assert.Equal("0", env["DOTNET_gcServer"]);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Exposes_exactly_the_documented_ports(string project)
    {
        var exposed = FinalStage(project).Where(i => i.Op == "EXPOSE")
            .SelectMany(i => i.Args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.Parse(p.Split('/')[0]))
            .Order().ToArray();
        Assert.Equal(Images[project].Ports.Order().ToArray(), exposed);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Healthcheck_probes_health_on_the_port_variable_set_in_the_image(string project)
    {
        var image = Images[project];
        var final = FinalStage(project);
        var health = final.Single(i => i.Op == "HEALTHCHECK").Args;
        Assert.Contains($"/dev/tcp/127.0.0.1/${{{image.HealthPortVariable}}}", health);
        Assert.Contains("GET /health ", health);
        Assert.Equal(image.HealthPort.ToString(), Env(final)[image.HealthPortVariable]);
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Every_copied_file_exists_and_is_not_docker_ignored(string project)
    {
        var ignored = Repo.Read(".dockerignore").Split('\n').Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        foreach (var copy in Instructions(project).Where(i => i.Op == "COPY" && !i.Args.Contains("--from=")))
        {
            var parts = copy.Args.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--")).ToList();
            foreach (var source in parts[..^1])
            {
                Assert.True(Path.Exists(Repo.PathOf(source)), $"{project}/Dockerfile copies missing '{source}'");
                var top = source.TrimEnd('/').Split('/')[0];
                Assert.DoesNotContain(ignored, p => p.TrimEnd('/') == top || p.TrimEnd('/') == source.TrimEnd('/'));
            }
        }
        Assert.Contains(ignored, p => p.Contains("bin"));
        Assert.Contains(ignored, p => p.Contains("obj"));
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Project_file_if_present_keeps_the_default_assembly_name(string project)
    {
        var csproj = Repo.PathOf("services", project, project + ".csproj");
        if (!File.Exists(csproj))
        {
            return; // being written in parallel; the Dockerfile already targets the agreed path
        }
        var text = File.ReadAllText(csproj);
        var name = Regex.Match(text, "<AssemblyName>([^<]+)</AssemblyName>");
        Assert.True(!name.Success || name.Groups[1].Value == project, $"{project}.csproj renames the assembly; ENTRYPOINT expects {project}.dll");
    }

    [Fact]
    public void Streamer_image_ships_the_sample_as_the_default_csv()
    {
        var final = FinalStage("Telemetry.Streamer.Dapr");
        Assert.Equal(DeploymentDefaults.ContainerCsvFile, Env(final)["CSV_FILE"]);
        var copy = final.Single(i => i.Op == "COPY" && i.Args.Contains("data/")).Args.Split(' ');
        Assert.Equal("data/dcgm_metrics_20250718_134233.csv", copy[^2]);
        Assert.Equal(DeploymentDefaults.ContainerCsvFile, copy[^1]);
    }

    [Fact]
    public void Collector_image_has_a_writable_data_dir()
    {
        var final = FinalStage("Telemetry.Collector.Dapr");
        Assert.Equal(DeploymentDefaults.ContainerDataDir, Env(final)["DATA_DIR"]);
        Assert.Contains(final, i => i.Op == "RUN" && i.Args.Contains($"chown 1000:1000 {DeploymentDefaults.ContainerDataDir}"));
    }
}
