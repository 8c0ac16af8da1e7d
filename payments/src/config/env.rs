//! Reading one variable: unset and blank are the same, and a bad value fails start-up with a
//! message naming the variable.

use std::time::Duration;

use anyhow::{bail, Context};
use url::Url;

pub(super) fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

pub(super) fn parse_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "TRUE" | "yes") => Ok(true),
        Some("0" | "false" | "FALSE" | "no") => Ok(false),
        Some(other) => bail!("{name} must be true or false, got {other:?}"),
    }
}

pub(super) fn parse_u64(name: &str, default: u64) -> anyhow::Result<u64> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .with_context(|| format!("{name} must be a whole number, got {raw:?}")),
    }
}

pub(super) fn parse_u32(name: &str, default: u32) -> anyhow::Result<u32> {
    u32::try_from(parse_u64(name, u64::from(default))?)
        .with_context(|| format!("{name} is too large"))
}

/// `name` in milliseconds.
pub(super) fn millis(name: &str, default: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(parse_u64(name, default)?))
}

/// `name` in milliseconds, raised to `floor` (a worker's interval: zero would spin).
pub(super) fn millis_at_least(name: &str, default: u64, floor: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(parse_u64(name, default)?.max(floor)))
}

/// `name` in seconds.
pub(super) fn secs(name: &str, default: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_secs(parse_u64(name, default)?))
}

pub(super) fn parse_schedule_ms(name: &str, default: &[u64]) -> anyhow::Result<Vec<Duration>> {
    let Some(raw) = var(name) else {
        return Ok(default.iter().copied().map(Duration::from_millis).collect());
    };
    let schedule = raw
        .split(',')
        .map(|part| part.trim().parse::<u64>().map(Duration::from_millis))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{name} must be comma-separated milliseconds, got {raw:?}"))?;
    if schedule.is_empty() || schedule.len() > 32 {
        bail!("{name} must list 1 to 32 delays");
    }
    Ok(schedule)
}

pub(super) fn parse_url(name: &str, raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("{name} is not a URL: {raw:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("{name} must be an http or https URL");
    }
    Ok(url)
}

pub(super) fn base64_key(name: &str, raw: &str) -> anyhow::Result<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .with_context(|| format!("{name} must be base64 of 32 bytes"))
}
