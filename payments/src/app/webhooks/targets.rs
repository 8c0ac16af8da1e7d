//! Where a webhook may be sent: http(s) URLs, and never link-local or cloud-metadata targets
//! (checked on registration, again before each send, and on every address a host name
//! resolves to, in workers::webhook_dns).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::app::error::AppError;

/// Cloud metadata services answer on these names and addresses; a webhook pointed at them
/// would let an admin key read instance credentials.
const METADATA_HOSTS: [&str; 3] = ["metadata.google.internal", "metadata", "instance-data"];

/// Whether `name` (a host name, any case, with or without its final dot) is a cloud metadata
/// service's name.
pub fn refused_name(name: &str) -> bool {
    METADATA_HOSTS.contains(&name.trim_end_matches('.').to_ascii_lowercase().as_str())
}

/// Whether a webhook may not connect to `ip`: link-local (where cloud metadata services
/// answer), the known metadata addresses, "this host" (0.0.0.0/8, `::`) and broadcast, in
/// every spelling that reaches an IPv4 address through IPv6: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4
/// (`2002::/16`) and Teredo (`2001::/32`, the client address).
pub fn refused_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let first = segments.first().copied().unwrap_or(0);
            // fe80::/10 link-local, and AWS's IPv6 metadata address fd00:ec2::254.
            (first & 0xffc0) == 0xfe80
                || segments == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
                || v6.is_unspecified()
                || embedded_v4(v6).is_some_and(refused_v4)
        }
    }
}

fn refused_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local()
        || v4.octets() == [100, 100, 100, 200]
        || v4.octets().first() == Some(&0)
        || v4.is_broadcast()
}

/// The IPv4 address an IPv6 address stands for, where the network delivers it to one.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let octets = v6.octets();
    let segments = v6.segments();
    let last32 = |octets: &[u8; 16]| {
        Ipv4Addr::new(
            octets.get(12).copied().unwrap_or(0),
            octets.get(13).copied().unwrap_or(0),
            octets.get(14).copied().unwrap_or(0),
            octets.get(15).copied().unwrap_or(0),
        )
    };
    match segments {
        // IPv4-mapped ::ffff:0:0/96.
        [0, 0, 0, 0, 0, 0xffff, _, _] => v6.to_ipv4_mapped(),
        // IPv4-compatible ::/96, except :: and ::1 (their "IPv4" would be 0.0.0.x).
        [0, 0, 0, 0, 0, 0, high, _] if high >> 8 != 0 => v6.to_ipv4(),
        // NAT64, well-known and local-use prefixes.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(last32(&octets)),
        // 6to4: the IPv4 address follows the prefix.
        [0x2002, high, low, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        // Teredo: the client's address, inverted, in the last 32 bits.
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(last32(&octets)))),
        _ => None,
    }
}

/// Checks a webhook URL: http(s), a host, and no link-local or metadata target unless the
/// configuration allows it. Loopback and private addresses are accepted (API.md).
pub fn validate_url(raw: &str, allow_link_local: bool) -> Result<url::Url, AppError> {
    let invalid = |detail: &str| AppError::validation("url", detail.to_owned());
    if raw.len() > 2048 {
        return Err(invalid("url must be at most 2048 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("url is not a valid absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url must not carry credentials"));
    }
    let host = url.host().ok_or_else(|| invalid("url must have a host"))?;
    if allow_link_local {
        return Ok(url);
    }
    let refused = match host {
        url::Host::Ipv4(ip) => refused_address(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => refused_address(IpAddr::V6(ip)),
        url::Host::Domain(name) => refused_name(name),
    };
    if refused {
        return Err(AppError::unprocessable(
            "webhook_url_refused",
            "Webhook URL refused",
            "link-local and cloud-metadata addresses are refused (set WEBHOOK_ALLOW_LINK_LOCAL=true to allow)",
        )
        .with("parameter", "url"));
    }
    Ok(url)
}
