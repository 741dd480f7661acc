using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Tests.Storage;
using Telemetry.Core.Windows;
using static Telemetry.Core.Tests.Windows.WindowTestData;

namespace Telemetry.Core.Tests.Windows;

public sealed class WriteSizeTests
{
    [Fact]
    public async Task A_big_append_is_committed_in_writes_no_larger_than_the_limit()
    {
        var store = new WriteSizeStore(new MemoryKeyValueStore());
        var options = new WindowOptions { MaxEntries = 10_000, SegmentCapacity = 256, MaxWriteBytes = 64 * 1024 };
        var writer = new WindowWriter(store, options);
        var gpus = Enumerable.Range(0, 40).Select(i => Gpu(i / 8, i % 8)).ToList();
        var perGpu = Instants(0, 100).Count;
        var batch = gpus.Select(gpu => new GpuSamples(gpu, Instants(0, 100))).ToList();

        var result = await writer.AppendAsync(batch);

        Assert.Equal(40 * perGpu, result.Stored);
        Assert.True(store.Writes > 2, $"{store.Writes} writes");
        // One GPU's writes stay together, so a write may exceed the limit by at most one GPU's share.
        var oneGpu = perGpu * 60 + 4096;
        Assert.True(store.LargestWrite <= options.MaxWriteBytes + oneGpu, $"largest write {store.LargestWrite} bytes");
        var reader = new WindowReader(store);
        foreach (var gpu in gpus) Assert.Equal(perGpu, (await ReadAllAsync(reader, gpu.Uuid)).Count);
    }
}
