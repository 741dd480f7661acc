namespace Telemetry.Deploy.Tests;

/// <summary>The CI summary (<c>.ci/test-summary.sh</c>) on TRX files shaped as <c>dotnet test --logger trx</c>
/// writes them: a failed test is named, with its message and the line it failed on, above the count line.</summary>
public sealed class CiScriptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trx-").FullName;

    [ToolFact("bash")]
    public void A_failed_test_is_named_with_its_message_above_the_counts()
    {
        File.WriteAllText(Path.Combine(_dir, "run.trx"), Trx(
            Result("Tests.Good.Passes", "Passed", ""),
            Result("Tests.Back.Fails(x: &quot;a&lt;b&quot;)", "Failed", """
                <Output><ErrorInfo><Message>peak 5 &gt; bound 4
                second line &amp; more</Message><StackTrace>   at System.Reflection.Invoke()
                   at Tests.Back.Fails(String x) in /src/Back.cs:line 42
                   at System.Other()</StackTrace></ErrorInfo></Output>
                """)));

        var (code, output) = Tools.Run("bash", ".ci/test-summary.sh", _dir);

        Assert.Equal(1, code);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal("1 passed, 1 failed, 0 skipped", lines[^1]);
        Assert.Contains("FAILED Tests.Back.Fails(x: \"a<b\")", output);
        Assert.Contains("    peak 5 > bound 4", output);
        Assert.Contains("    second line & more", output);
        Assert.Contains("at Tests.Back.Fails(String x) in /src/Back.cs:line 42", output);
        Assert.DoesNotContain("Tests.Good.Passes", output);
    }

    [ToolFact("bash")]
    public void A_passing_run_prints_only_the_counts()
    {
        File.WriteAllText(Path.Combine(_dir, "run.trx"), Trx(Result("Tests.Good.Passes", "Passed", "")));

        var (code, output) = Tools.Run("bash", ".ci/test-summary.sh", _dir);

        Assert.Equal(0, code);
        Assert.Equal("1 passed, 0 failed, 0 skipped", output.Trim());
    }

    [ToolFact("shellcheck")]
    public void Ci_scripts_pass_shellcheck()
    {
        var (code, output) = Tools.Run("shellcheck", ".ci/run", ".ci/test-summary.sh");
        Assert.True(code == 0, output);
    }

    private static string Result(string name, string outcome, string body) =>
        $"""<UnitTestResult executionId="e" testId="t" testName="{name}" duration="00:00:00.01" outcome="{outcome}">{body}</UnitTestResult>""";

    private static string Trx(params string[] results)
    {
        var failed = results.Count(r => r.Contains("outcome=\"Failed\"", StringComparison.Ordinal));
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
              <Results>{string.Concat(results)}</Results>
              <ResultSummary outcome="{(failed > 0 ? "Failed" : "Completed")}">
                <Counters total="{results.Length}" executed="{results.Length}" passed="{results.Length - failed}" failed="{failed}" error="0" timeout="0" aborted="0" />
              </ResultSummary>
            </TestRun>
            """;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
