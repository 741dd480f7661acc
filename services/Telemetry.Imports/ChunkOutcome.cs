namespace Telemetry.Imports;

/// <summary>What processing one chunk did. <see cref="Stop"/> is true when the import was cancelled or had
/// already finished, so the caller should not go on with further chunks.</summary>
public sealed record ChunkOutcome(int Chunk, long RowsRead, long SamplesPublished, long RowsRejected, int ChunksDone, bool Stop);
