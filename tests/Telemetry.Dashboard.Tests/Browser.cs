using Microsoft.Playwright;

namespace Telemetry.Dashboard.Tests;

/// <summary>
/// Headless Chromium from Debian's <c>chromium</c> package, driven by Playwright. Playwright's own browser
/// builds are downloaded from the internet, which CI cannot reach, so the system browser is used
/// (<c>CHROMIUM_PATH</c> overrides where it is).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public static string ExecutablePath => Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static bool Available => File.Exists(ExecutablePath);

    /// <summary>Where screenshots go when <c>DASHBOARD_SCREENSHOTS</c> names a folder (`make screenshots`).</summary>
    public static string? ScreenshotFolder => Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOTS") is { Length: > 0 } folder ? folder : null;

    private IPlaywright? _playwright;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!Available) return;
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            // Containers (CI here) run as root, where Chromium refuses to start sandboxed.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    public async Task<IPage> NewPageAsync(Uri baseAddress, List<string>? problems = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
            TimezoneId = "UTC",
            Locale = "en-GB",
        });
        var page = await context.NewPageAsync();
        // Script errors and CSP violations show up as console errors or page errors: a test can assert none.
        page.Console += (_, message) =>
        {
            if (message.Type == "error") problems?.Add($"console: {message.Text}");
        };
        page.PageError += (_, error) => problems?.Add($"page error: {error}");
        return page;
    }

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        if (ScreenshotFolder is not { } folder) return;
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name) });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>A test that needs the system Chromium; skipped, saying why, where it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (!BrowserFixture.Available)
        {
            Skip = $"No Chromium at {BrowserFixture.ExecutablePath}: install Debian's chromium package (.ci/run does) or set CHROMIUM_PATH";
        }
    }
}
