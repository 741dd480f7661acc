using System.Text;
using Telemetry.Core.Csv;
using Telemetry.Core.Model;

namespace Telemetry.Core.Tests.Csv;

internal static class CsvTestSupport
{
    public static readonly TelemetryCsvOptions Options = new("test-host");

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static string ReferenceFile => Fixture(Path.Combine("reference", "dcgm_metrics_20250718_134233.csv"));

    public static List<CsvReadResult> ReadFile(string path)
    {
        using var reader = TelemetryCsvReader.Open(path, Options);
        return reader.ReadAll().ToList();
    }

    public static List<CsvReadResult> ReadText(string text, bool bom = false, string name = "upload.csv")
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bom) bytes = [0xEF, 0xBB, 0xBF, .. bytes];
        using var stream = new MemoryStream(bytes);
        using var reader = TelemetryCsvReader.Open(stream, name, Options);
        return reader.ReadAll().ToList();
    }

    public static List<TelemetryRow> Rows(this IEnumerable<CsvReadResult> results) =>
        results.Where(r => r.Row is not null).Select(r => r.Row!).ToList();

    public static List<RowError> Errors(this IEnumerable<CsvReadResult> results) =>
        results.Where(r => r.Error is not null).Select(r => r.Error!).ToList();

    public static double Metric(this TelemetryRow row, string name) => row.Metrics.Single(m => m.Name == name).Value;
}
