using System.IO.Pipelines;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Telemetry.Gateway;

/// <summary>
/// A 200 whose JSON the subclass writes as bytes (see <see cref="JsonBytes"/>) instead of through the serializer,
/// for the answers large enough that the serializer's per-value work dominated a request. The endpoint still declares
/// <typeparamref name="TResponse"/>, so the OpenAPI document does not change, and the bytes are what the serializer
/// writes for <see cref="ToResponse"/> with the gateway's JSON options (GatewayJsonTests). If the host asks for
/// indented JSON the serializer writes <see cref="ToResponse"/> instead: the byte writers only know the compact form.
/// </summary>
internal abstract class JsonBytesResult<TResponse> : IResult, IStatusCodeHttpResult, IEndpointMetadataProvider
{
    public int? StatusCode => StatusCodes.Status200OK;

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(TResponse), ["application/json"]));

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        var json = httpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        if (json.WriteIndented)
        {
            await JsonSerializer.SerializeAsync(response.Body, ToResponse(), json, httpContext.RequestAborted);
            return;
        }
        await WriteAsync(response.BodyWriter, json.Encoder, httpContext.RequestAborted);
    }

    /// <summary>The same answer as the declared record.</summary>
    protected abstract TResponse ToResponse();

    /// <summary>The compact JSON of <see cref="ToResponse"/>, written and flushed.</summary>
    protected abstract Task WriteAsync(PipeWriter body, JavaScriptEncoder? encoder, CancellationToken cancellationToken);
}
