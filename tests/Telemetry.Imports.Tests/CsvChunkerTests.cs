using System.Text;

namespace Telemetry.Imports.Tests;

public class CsvChunkerTests
{
    private static async Task<(string Header, long HeaderLines, List<(int Index, string Text, long FirstLine)> Chunks, long Size)> Split(
        string text, int chunkBytes, long maxBytes = long.MaxValue)
    {
        var chunker = new CsvChunker(chunkBytes, maxBytes);
        string header = "";
        long headerLines = 0;
        var chunks = new List<(int, string, long)>();
        var size = await chunker.SplitAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)),
            (bytes, lines) => { header = Encoding.UTF8.GetString(bytes); headerLines = lines; return Task.CompletedTask; },
            (index, data, line) => { chunks.Add((index, Encoding.UTF8.GetString(data), line)); return Task.CompletedTask; },
            CancellationToken.None);
        return (header, headerLines, chunks, size);
    }

    [Fact]
    public async Task Chunks_hold_whole_records_and_reassemble_to_the_file()
    {
        var text = Csv.Dcgm(100);
        var (header, headerLines, chunks, size) = await Split(text, chunkBytes: 1024);

        Assert.Equal(Csv.DcgmHeader + "\n", header);
        Assert.Equal(1, headerLines);
        Assert.True(chunks.Count > 5);
        Assert.Equal(text, header + string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(Encoding.UTF8.GetByteCount(text), size);
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index));
        foreach (var chunk in chunks)
        {
            Assert.EndsWith("\n", chunk.Text);
            Assert.StartsWith("\"2025", chunk.Text);
        }
        // Line numbers: chunk k starts on 2 + the number of lines before it.
        var line = 2L;
        foreach (var chunk in chunks)
        {
            Assert.Equal(line, chunk.FirstLine);
            line += chunk.Text.Count(c => c == '\n');
        }
    }

    [Fact]
    public async Task A_line_feed_inside_quotes_does_not_end_a_record()
    {
        var row = "\"2025-07-18T20:42:34Z\",\"M\",\"0\",\"nvidia0\",\"GPU-x\",\"H100\",\"h\",\"\",\"\",\"\",\"1\",\"multi\nline\nlabel\"\n";
        var text = Csv.DcgmHeader + "\n" + string.Concat(Enumerable.Repeat(row, 50));
        var (_, _, chunks, _) = await Split(text, chunkBytes: 1024);
        foreach (var chunk in chunks) Assert.Equal(0, chunk.Text.Split(row).Last().Length);
        Assert.Equal(2 + 3 * (long)(chunks[0].Text.Length / row.Length), chunks[1].FirstLine);
    }

    [Fact]
    public async Task Past_the_limit_it_throws()
    {
        await Assert.ThrowsAsync<ImportTooLargeException>(() => Split(Csv.Dcgm(100), 1024, maxBytes: 2000));
    }

    [Fact]
    public async Task A_file_without_records_is_just_a_header()
    {
        var (header, _, chunks, _) = await Split(Csv.DcgmHeader, 1024);
        Assert.Equal(Csv.DcgmHeader, header);
        Assert.Empty(chunks);
    }
}
