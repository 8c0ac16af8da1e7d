//! Times in list and report queries: an RFC 3339 time, or a date (`2026-12-06`) meaning that
//! Cambodian day (UTC+7; API.md's reports take "Cambodian dates (inclusive)"). A date as a
//! start is the day's first instant; as an end, the day's last (inclusive ends) or the next
//! day's first (exclusive ends), so either way the whole day is in the range.

use chrono::{
    DateTime, Datelike as _, Days, FixedOffset, NaiveDate, TimeDelta, TimeZone as _, Utc,
};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// What a client is told when a time does not parse.
pub const FORMAT: &str =
    "an RFC 3339 time (2026-12-06T09:30:00+07:00) or a date (2026-12-06: that day in UTC+7)";

/// Which instant of a day a date-only value means.
#[derive(Clone, Copy)]
enum Bound {
    Start,
    /// The last microsecond of the day (PostgreSQL keeps microseconds): for `<=` ends.
    EndInclusive,
    /// The next day's start: for `<` ends.
    EndExclusive,
}

fn day_start(date: NaiveDate) -> Option<DateTime<Utc>> {
    let offset = FixedOffset::east_opt(7 * 3600)?;
    offset
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|at| at.with_timezone(&Utc))
}

fn parse(raw: &str, bound: Bound) -> Option<DateTime<Utc>> {
    if let Ok(at) = raw.parse::<DateTime<Utc>>() {
        return Some(at);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let at = match bound {
        Bound::Start => day_start(date)?,
        Bound::EndExclusive => day_start(date.checked_add_days(Days::new(1))?)?,
        Bound::EndInclusive => {
            day_start(date.checked_add_days(Days::new(1))?)? - TimeDelta::microseconds(1)
        }
    };
    timestamp_in_range(at).then_some(at)
}

fn optional<'de, D: Deserializer<'de>>(
    deserializer: D,
    bound: Bound,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw: Option<String> = Option::deserialize(deserializer)?;
    raw.map(|raw| {
        parse(&raw, bound).ok_or_else(|| serde::de::Error::custom(format!("expected {FORMAT}")))
    })
    .transpose()
}

/// A start (a date: its first instant). Use with `#[serde(default)]`.
pub fn start<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    optional(d, Bound::Start)
}

/// A required start.
pub fn required_start<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    parse(&raw, Bound::Start).ok_or_else(|| serde::de::Error::custom(format!("expected {FORMAT}")))
}

/// An inclusive end (a date: its last microsecond). Use with `#[serde(default)]`.
pub fn end_inclusive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    optional(d, Bound::EndInclusive)
}

/// An exclusive end (a date: the next day's start). Use with `#[serde(default)]`.
pub fn end_exclusive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    optional(d, Bound::EndExclusive)
}

/// A start given as a date or a time (a date: its first instant in UTC+7).
pub fn parse_start(raw: &str) -> Option<DateTime<Utc>> {
    parse(raw, Bound::Start)
}

/// An inclusive end given as a date or a time (a date: its last microsecond in UTC+7).
pub fn parse_end_inclusive(raw: &str) -> Option<DateTime<Utc>> {
    parse(raw, Bound::EndInclusive)
}

/// A `datetime-local` form value (`2026-12-06T14:30`, seconds optional) read in Phnom Penh
/// time (UTC+7), the only zone the console shows. The instant is the end of that minute (or
/// second): a payment made at 14:30:20 is in the books "at 14:30".
pub fn parse_local_datetime(raw: &str) -> Option<DateTime<Utc>> {
    let offset = FixedOffset::east_opt(7 * 3600)?;
    let (local, step) = match chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
        Ok(local) => (local, TimeDelta::minutes(1)),
        Err(_) => (
            chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").ok()?,
            TimeDelta::seconds(1),
        ),
    };
    let at = offset
        .from_local_datetime(&local)
        .single()?
        .with_timezone(&Utc)
        .checked_add_signed(step - TimeDelta::microseconds(1))?;
    timestamp_in_range(at).then_some(at)
}

/// The OpenAPI schema of such a value: a date-time or a date.
pub fn schema() -> RefOr<Schema> {
    let format = |known| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(known)))
    };
    OneOfBuilder::new()
        .item(format(KnownFormat::DateTime))
        .item(format(KnownFormat::Date))
        .description(Some(FORMAT))
        .into()
}

/// Timestamps in queries and cursors must fall in years 1..=9999 (RFC 3339's range). PostgreSQL
/// stores 4713 BC..294276 AD, but arithmetic near those ends overflows; no payment is dated
/// outside this range.
pub const MIN_YEAR: i32 = 1;
pub const MAX_YEAR: i32 = 9999;

/// Whether a timestamp lies in the range the API accepts ([`MIN_YEAR`]..=[`MAX_YEAR`]).
pub fn timestamp_in_range(at: DateTime<Utc>) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&at.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datetime_local_value_is_phnom_penh_time_to_the_end_of_its_minute_or_second() {
        let minute = parse_local_datetime("2026-12-06T14:30").map(|at| at.to_rfc3339());
        assert_eq!(minute.as_deref(), Some("2026-12-06T07:30:59.999999+00:00"));
        let second = parse_local_datetime("2026-12-06T14:30:20").map(|at| at.to_rfc3339());
        assert_eq!(second.as_deref(), Some("2026-12-06T07:30:20.999999+00:00"));
        assert!(parse_local_datetime("2026-12-06").is_none());
        assert!(parse_local_datetime("yesterday").is_none());
        assert!(parse_local_datetime("2026-12-06T25:00").is_none());
    }

    #[test]
    fn a_date_is_the_whole_cambodian_day() {
        let day = "2026-12-06";
        let start = parse(day, Bound::Start).map(|at| at.to_rfc3339());
        assert_eq!(start.as_deref(), Some("2026-12-05T17:00:00+00:00"));
        let end = parse(day, Bound::EndExclusive).map(|at| at.to_rfc3339());
        assert_eq!(end.as_deref(), Some("2026-12-06T17:00:00+00:00"));
        let last = parse(day, Bound::EndInclusive).map(|at| at.to_rfc3339());
        assert_eq!(last.as_deref(), Some("2026-12-06T16:59:59.999999+00:00"));
        assert!(parse("2026-13-01", Bound::Start).is_none());
        assert!(parse("06/12/2026", Bound::Start).is_none());
    }
}
