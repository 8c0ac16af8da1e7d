//! The audit trail (issue 16): who changed what, newest first, on one list with filters —
//! catalog changes, staff actions (logins, drawers, voids, ...), key and user management,
//! period closes, exception resolutions and chain verification runs.
//!
//! Office scope: an office-scoped auditor sees the rows of their offices, and catalog changes
//! (the fee schedules are national and every office charges them); rows without an office
//! (logins, key and user management, verification runs) are for national auditors and admins.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::app::auth::{Principal, Role};
use crate::app::error::AppError;
use crate::db;
use crate::db::audit::{AuditQuery, AuditRow};
use crate::state::AppState;

/// The kinds of rows, as filters name them.
pub const KINDS: [&str; 6] = [
    "catalog",
    "staff",
    "access",
    "period_close",
    "resolution",
    "verification",
];

/// What the caller asks for (all optional).
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub office_code: Option<String>,
    pub actor: Option<String>,
    /// First Cambodian day, inclusive.
    pub from: Option<NaiveDate>,
    /// Last Cambodian day, inclusive.
    pub to: Option<NaiveDate>,
    pub cursor: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
}

/// One page of the trail.
#[derive(Debug)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// Pass as `cursor` for the next (older) page.
    pub next_cursor: Option<String>,
}

fn cambodian_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |local| local.and_utc() - Duration::hours(7))
}

fn encode_cursor(row: &AuditRow) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}|{}",
        row.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        row.kind,
        row.id
    ))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String, String), AppError> {
    let bad = || AppError::validation("cursor", "cursor is not one this list gave");
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let mut parts = text.splitn(3, '|');
    let (Some(at), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| bad())?
        .with_timezone(&Utc);
    Ok((at, kind.to_owned(), id.to_owned()))
}

/// Escapes `%`, `_` and `\` so the actor filter matches the text as typed.
fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

fn present(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The trail for an auditor or admin, newest first.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn trail(
    state: &AppState,
    principal: &Principal,
    filter: AuditFilter,
) -> Result<AuditPage, AppError> {
    principal.require(&[Role::Auditor, Role::Admin])?;
    let kind = present(filter.kind);
    if let Some(kind) = &kind {
        if !KINDS.contains(&kind.as_str()) {
            return Err(AppError::validation(
                "kind",
                format!("kind must be one of {}", KINDS.join(", ")),
            ));
        }
    }
    let office_code = present(filter.office_code);
    if let (Some(office), Some(mine)) = (&office_code, principal.office_filter()) {
        if !mine.contains(office) {
            return Err(AppError::forbidden(format!(
                "office {office} is not one of yours"
            )));
        }
    }
    let actor = present(filter.actor);
    if actor
        .as_ref()
        .is_some_and(|actor| actor.chars().count() > 200)
    {
        return Err(AppError::validation(
            "actor",
            "actor is at most 200 characters",
        ));
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(AppError::validation("from", "from must not be after to"));
        }
    }
    let limit = filter.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::validation("limit", "limit must be 1 to 200"));
    }
    let before = present(filter.cursor)
        .map(|cursor| decode_cursor(&cursor))
        .transpose()?;
    let query = AuditQuery {
        kind,
        office_code,
        actor: actor.map(|actor| like_literal(&actor)),
        from: filter.from.map(cambodian_midnight),
        to: filter
            .to
            .and_then(|to| to.succ_opt())
            .map(cambodian_midnight),
        offices: principal.office_filter().map(<[String]>::to_vec),
        before,
        limit: limit.saturating_add(1),
    };
    let mut conn = state.pool.acquire().await?;
    let mut rows = db::audit::list(&mut conn, &query).await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(encode_cursor)
    } else {
        None
    };
    Ok(AuditPage { rows, next_cursor })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_forged_one_is_refused() {
        let row = AuditRow {
            at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            kind: "staff".to_owned(),
            id: "4|2".to_owned(),
            office_code: None,
            actor: "cli".to_owned(),
            action: "login".to_owned(),
            subject: None,
            detail: serde_json::json!({}),
        };
        let (at, kind, id) = decode_cursor(&encode_cursor(&row)).unwrap();
        assert_eq!((at, kind.as_str(), id.as_str()), (row.at, "staff", "4|2"));
        assert!(decode_cursor("not-a-cursor").is_err());
    }

    #[test]
    fn the_actor_filter_is_literal() {
        assert_eq!(like_literal("50%_a\\"), "50\\%\\_a\\\\");
    }
}
