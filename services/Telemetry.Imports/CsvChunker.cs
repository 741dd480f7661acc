namespace Telemetry.Imports;

/// <summary>
/// Cuts an uploaded CSV into its header and chunks of whole records, in one forward pass, holding at most a
/// few chunks in memory. A record ends at a line feed outside double quotes, so a quoted field spanning lines
/// stays in one chunk; each chunk can then be parsed on its own, behind the header, by any replica.
/// </summary>
/// <remarks>A stray quote in an unquoted field can make the scanner miss boundaries; a chunk is then cut
/// hard at four times the target size, which at worst splits one record into two rejected lines.</remarks>
internal sealed class CsvChunker(int chunkBytes, long maxBytes)
{
    private const int MaxHeaderBytes = 64 * 1024;
    private readonly int _hardLimit = chunkBytes * 4;

    /// <summary>The header record (with its line feed) and how many physical lines it spans.</summary>
    public delegate Task HeaderHandler(byte[] header, long headerLines);

    /// <summary>Chunk <paramref name="index"/> and the physical line of the file it starts on.</summary>
    public delegate Task ChunkHandler(int index, byte[] data, long firstLine);

    /// <summary>Returns the number of bytes read. Throws <see cref="ImportTooLargeException"/> past the limit.</summary>
    public async Task<long> SplitAsync(Stream input, HeaderHandler onHeader, ChunkHandler onChunk, CancellationToken cancellationToken)
    {
        var pending = new byte[_hardLimit + 64 * 1024];
        var length = 0;          // bytes in pending
        var scanned = 0;         // bytes of pending already scanned
        long line = 1;           // physical line at the scan position
        long firstLine = 1;      // physical line pending starts on
        var inQuotes = false;
        var headerDone = false;
        var chunk = 0;
        long total = 0;

        while (true)
        {
            var read = await input.ReadAsync(pending.AsMemory(length, Math.Min(pending.Length - length, 64 * 1024)), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            total += read;
            if (total > maxBytes) throw new ImportTooLargeException(maxBytes);
            length += read;

            for (; scanned < length; scanned++)
            {
                var b = pending[scanned];
                if (b == (byte)'"') { inQuotes = !inQuotes; continue; }
                if (b != (byte)'\n') continue;
                line++;
                if (inQuotes) continue;
                var end = scanned + 1; // a record ends here
                if (!headerDone)
                {
                    await onHeader(pending[..end], line - 1).ConfigureAwait(false);
                    headerDone = true;
                }
                else if (end >= chunkBytes)
                {
                    await onChunk(chunk++, pending[..end], firstLine).ConfigureAwait(false);
                }
                else continue;
                Shift(pending, ref length, end);
                scanned = -1; // the loop's increment brings it to 0
                firstLine = line;
            }
            if (!headerDone)
            {
                if (length > MaxHeaderBytes) throw new InvalidDataException("line 1 is longer than 64 KB: not a CSV header");
            }
            else if (length >= _hardLimit)
            {
                // No record boundary in four chunks' worth: cut here rather than hold the file in memory.
                await onChunk(chunk++, pending[..length], firstLine).ConfigureAwait(false);
                firstLine = line;
                length = scanned = 0;
            }
        }

        if (!headerDone)
        {
            // A file of one line without a line feed: just a header (or nothing).
            await onHeader(pending[..length], 1).ConfigureAwait(false);
        }
        else if (length > 0)
        {
            await onChunk(chunk, pending[..length], firstLine).ConfigureAwait(false);
        }
        return total;
    }

    private static void Shift(byte[] buffer, ref int length, int count)
    {
        Buffer.BlockCopy(buffer, count, buffer, 0, length - count);
        length -= count;
    }
}
