namespace Telemetry.Deploy.Tests;

/// <summary>External validators; each runs only where the tool is installed.</summary>
public class LintToolTests
{
    [ToolFact("docker-compose")]
    public void Compose_file_passes_docker_compose_config()
    {
        var (code, output) = Tools.Run("docker-compose", "-f", "deploy/compose/docker-compose.yml", "config", "-q");
        Assert.True(code == 0, output);
    }

    [ToolFact("yamllint")]
    public void Yaml_passes_yamllint()
    {
        var (code, output) = Tools.Run("yamllint", "-s", ".");
        Assert.True(code == 0, output);
    }

    [ToolFact("shellcheck")]
    public void Scripts_pass_shellcheck()
    {
        var (code, output) = Tools.Run("shellcheck",
            "deploy/compose/build-and-push.sh", "deploy/compose/setup.sh", "deploy/helm/kind-quickstart.sh");
        Assert.True(code == 0, output);
    }

    [ToolFact("helm")]
    public void Chart_passes_helm_lint()
    {
        var (code, output) = Tools.Run("helm", "lint", "--strict", "deploy/helm/telemetry-pipeline");
        Assert.True(code == 0, output);
    }
}
