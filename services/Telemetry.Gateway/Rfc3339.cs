using System.Globalization;
using System.Text.RegularExpressions;

namespace Telemetry.Gateway;

/// <summary>
/// RFC 3339 date-times (section 5.6), exactly: <c>2025-07-18T20:42:34Z</c>, <c>…34.5+02:00</c>. .NET has no
/// strict parser: <see cref="DateTimeOffset.TryParse(string, out DateTimeOffset)"/> also took <c>7/18/2025</c> and RFC 1123
/// dates, and refused valid times whose UTC value falls outside <see cref="DateTime"/> with the same message as
/// garbage. One extension, documented in the README: without an offset the time is UTC.
/// </summary>
internal static partial class Rfc3339
{
    public enum Outcome { Parsed, Malformed, InvalidDate, OutOfRange }

    // [0-9], not \d, which also matches other scripts' digits. 'T' and 'Z' may be lower case (RFC 3339 5.6, NOTE).
    [GeneratedRegex(@"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?$",
        RegexOptions.CultureInvariant)]
    private static partial Regex Grammar();

    /// <summary>Parses <paramref name="text"/> to a UTC time. Fractions finer than 100 ns are cut off.</summary>
    public static Outcome TryParse(string text, out DateTime utc)
    {
        utc = default;
        var match = Grammar().Match(text);
        if (!match.Success) return Outcome.Malformed;
        int Number(int group) => int.Parse(match.Groups[group].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        int year = Number(1), month = Number(2), day = Number(3), hour = Number(4), minute = Number(5), second = Number(6);
        var offsetMinutes = 0;
        if (match.Groups[9].Success)
        {
            int offsetHour = Number(10), offsetMinute = Number(11);
            if (offsetHour > 23 || offsetMinute > 59) return Outcome.InvalidDate;
            offsetMinutes = (offsetHour * 60 + offsetMinute) * (match.Groups[9].Value == "-" ? -1 : 1);
        }
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(Math.Max(year, 1), month)
            || hour > 23 || minute > 59 || second > 60)
        {
            return Outcome.InvalidDate;
        }
        // Year 0000 and a leap second (:60) are valid RFC 3339 but have no DateTime; so has no UTC value past 9999.
        if (year == 0 || second == 60) return Outcome.OutOfRange;

        var ticks = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks;
        if (match.Groups[7].Success)
        {
            var digits = match.Groups[7].ValueSpan;
            var fraction = digits.Length > 7 ? digits[..7] : digits;
            ticks += long.Parse(fraction, NumberStyles.None, CultureInfo.InvariantCulture) * (long)Math.Pow(10, 7 - fraction.Length);
        }
        ticks -= offsetMinutes * TimeSpan.TicksPerMinute;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks) return Outcome.OutOfRange;
        utc = new DateTime(ticks, DateTimeKind.Utc);
        return Outcome.Parsed;
    }
}
