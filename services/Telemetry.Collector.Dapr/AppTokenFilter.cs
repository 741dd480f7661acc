namespace Telemetry.Collector;

/// <summary>With <c>APP_API_TOKEN</c> set, only the sidecar (which sends it as <c>dapr-api-token</c>) may deliver.</summary>
internal sealed class AppTokenFilter(IConfiguration configuration) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var expected = configuration["APP_API_TOKEN"];
        if (string.IsNullOrEmpty(expected)) return next(context);
        var given = context.HttpContext.Request.Headers["dapr-api-token"].ToString();
        var match = System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(given), System.Text.Encoding.UTF8.GetBytes(expected));
        return match ? next(context) : ValueTask.FromResult<object?>(Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "Missing or wrong dapr-api-token."));
    }
}
