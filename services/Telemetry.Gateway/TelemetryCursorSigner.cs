using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Telemetry.Core.Queries;

namespace Telemetry.Gateway;

/// <summary>
/// Seals a page's <c>next_cursor</c> to the GPU and query it was issued for: <c>{position}.{mac}</c>, where the
/// position is the core's <see cref="TelemetryCursor"/> and the MAC is HMAC-SHA256 (first 128 bits) over the GPU id,
/// <c>start_time</c>, <c>end_time</c>, the metric filter and the position. A cursor that was edited, made up, or
/// issued for another GPU or query is refused (400) instead of being applied to the wrong window.
/// <para>The key comes from <c>CURSOR_SECRET</c>; without it from <c>API_KEY</c>; without either from a fixed,
/// public label. Every gateway replica with the same settings derives the same key, so cursors keep working
/// across replicas and restarts. With no secret at all a cursor is still bound and checked, but anyone who
/// reads this code could mint one; on an API without a key that buys nothing a start_time would not.</para>
/// </summary>
public sealed class TelemetryCursorSigner
{
    private const int MacBytes = 16;
    private static readonly byte[] Purpose = "telemetry-pipeline cursor v1"u8.ToArray();
    private readonly byte[] _key;

    public TelemetryCursorSigner(string? secret)
    {
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret ?? ""), 32, salt: [], info: Purpose);
    }

    public string Seal(string gpuId, TelemetryQuery query, TelemetryCursor position)
    {
        var encoded = position.Encode();
        return $"{encoded}.{Base64Url.EncodeToString(Mac(gpuId, query, encoded))}";
    }

    public bool TryOpen(string text, string gpuId, TelemetryQuery query, out TelemetryCursor position)
    {
        position = default;
        var dot = text.LastIndexOf('.');
        if (dot <= 0 || text.Length > 1024) return false;
        var encoded = text[..dot];
        var mac = text.AsSpan(dot + 1);
        // IsValid first: the decoder throws, rather than returning false, on text that is not base64url.
        if (!Base64Url.IsValid(mac, out var length) || length != MacBytes) return false;
        Span<byte> given = stackalloc byte[MacBytes];
        if (!Base64Url.TryDecodeFromChars(mac, given, out var written) || written != MacBytes) return false;
        return CryptographicOperations.FixedTimeEquals(given, Mac(gpuId, query, encoded))
               && TelemetryCursor.TryDecode(encoded, out position);
    }

    /// <summary>The MAC over a JSON array of the bound values: each value keeps its own boundaries, so no two
    /// different queries serialise to the same bytes.</summary>
    private byte[] Mac(string gpuId, TelemetryQuery query, string encoded)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStringValue(gpuId);
            if (query.Start is { } start) json.WriteNumberValue(start.Ticks); else json.WriteNullValue();
            if (query.End is { } end) json.WriteNumberValue(end.Ticks); else json.WriteNullValue();
            json.WriteStartArray();
            foreach (var metric in (query.Metrics ?? (IEnumerable<string>)[]).Order(StringComparer.Ordinal)) json.WriteStringValue(metric);
            json.WriteEndArray();
            json.WriteStringValue(encoded);
            json.WriteEndArray();
        }
        return HMACSHA256.HashData(_key, buffer.WrittenSpan)[..MacBytes];
    }
}
