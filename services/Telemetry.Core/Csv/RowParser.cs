using CsvHelper;
using Telemetry.Core.Model;

namespace Telemetry.Core.Csv;

/// <summary>Turns the current record of a <see cref="CsvReader"/> into a row or an error. One instance per
/// file: it owns the caches that make repeated identities and names free.</summary>
internal abstract class RowParser(string source, int headerFieldCount)
{
    protected string Source { get; } = source;

    /// <summary>The result for the current record, or <c>default</c> (neither row nor error) for a line that
    /// is not data, such as a header repeated by concatenated logs.</summary>
    public abstract CsvReadResult Parse(CsvReader csv, long line);

    protected CsvReadResult Fail(long line, string reason, string? field = null) =>
        new(null, new RowError(Source, line, reason, field));

    /// <summary>Every format needs one value per header column; anything else means a shifted or cut line
    /// whose values cannot be trusted to be in the right columns.</summary>
    protected bool WrongFieldCount(CsvReader csv, long line, out CsvReadResult error)
    {
        if (csv.FieldCount == headerFieldCount)
        {
            error = default;
            return false;
        }
        error = Fail(line, $"expected {headerFieldCount} fields as in the header but found {csv.FieldCount}");
        return true;
    }
}
