using System.Xml.Linq;

namespace Telemetry.Deploy.Tests;

/// <summary>The layout rules of issue 14, read from the project files: what each project may depend on, whatever
/// a later change adds.</summary>
public sealed class ProjectLayoutTests
{
    [Fact]
    public void The_embedded_host_depends_on_no_Dapr_package_directly_or_through_a_project()
    {
        var packages = PackagesOf(Repo.PathOf("services", "Telemetry.Embedded", "Telemetry.Embedded.csproj"));

        Assert.Contains("Microsoft.Data.Sqlite", packages.Keys); // the walk reaches the SQLite adapter's packages
        Assert.Empty(packages.Where(package => package.Key.StartsWith("Dapr", StringComparison.OrdinalIgnoreCase))
            .Select(package => $"{package.Key} (from {package.Value})"));
    }

    [Fact]
    public void The_domain_project_references_no_other_project_and_no_storage_or_web_package()
    {
        var core = XDocument.Load(Repo.PathOf("services", "Telemetry.Core", "Telemetry.Core.csproj"));

        Assert.Empty(core.Descendants("ProjectReference"));
        Assert.Empty(core.Descendants("FrameworkReference"));
        var packages = core.Descendants("PackageReference").Select(p => (string)p.Attribute("Include")!).ToList();
        Assert.DoesNotContain(packages, p => p.Contains("Sqlite", StringComparison.OrdinalIgnoreCase)
            || p.StartsWith("Dapr", StringComparison.OrdinalIgnoreCase) || p.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void Each_Dapr_host_is_the_only_place_its_service_meets_Dapr()
    {
        foreach (var service in new[] { "Streamer", "Collector", "Gateway", "Imports" })
        {
            var plain = PackagesOf(Repo.PathOf("services", $"Telemetry.{service}", $"Telemetry.{service}.csproj"));
            var hosted = PackagesOf(Repo.PathOf("services", $"Telemetry.{service}.Dapr", $"Telemetry.{service}.Dapr.csproj"));

            Assert.DoesNotContain(plain.Keys, p => p.StartsWith("Dapr", StringComparison.OrdinalIgnoreCase));
            Assert.Contains(hosted.Keys, p => p.StartsWith("Dapr", StringComparison.OrdinalIgnoreCase));
        }
    }

    /// <summary>Every package a project references, itself or through its project references, with the project that
    /// names it.</summary>
    private static Dictionary<string, string> PackagesOf(string project)
    {
        var packages = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var path))
        {
            if (!seen.Add(path)) continue;
            var document = XDocument.Load(path);
            foreach (var package in document.Descendants("PackageReference"))
            {
                packages.TryAdd((string)package.Attribute("Include")!, Path.GetFileName(path));
            }
            foreach (var reference in document.Descendants("ProjectReference"))
            {
                var include = ((string)reference.Attribute("Include")!).Replace('\\', '/');
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, include)));
            }
        }
        return packages;
    }
}
