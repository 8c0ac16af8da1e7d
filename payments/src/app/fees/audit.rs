//! The catalog's audit log: every change of a schedule, service or bundle, with who made it
//! (an API key id, or `cli`), when, and the JSON before and after.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::model::Catalog;
use super::publish::Outcome;
use crate::app::error::AppError;
use crate::db::catalog_audit::{self, AuditRecord, NewAuditRecord};

/// The actor of command-line and seed changes.
pub const CLI_ACTOR: &str = "cli";

fn to_json<T: Serialize>(value: &T) -> Result<Value, AppError> {
    serde_json::to_value(value).map_err(AppError::internal)
}

/// The JSON of one service or bundle before and after a change.
type BeforeAfter = (Option<Value>, Option<Value>);

/// Each service and bundle of `baseline` or `catalog`, with its JSON before and after.
fn changes(
    baseline: Option<&Catalog>,
    catalog: &Catalog,
) -> Result<BTreeMap<(&'static str, String), BeforeAfter>, AppError> {
    let mut changes: BTreeMap<(&'static str, String), BeforeAfter> = BTreeMap::new();
    for service in baseline.map_or(&[][..], |old| old.services.as_slice()) {
        changes
            .entry(("service", service.code.clone()))
            .or_default()
            .0 = Some(to_json(service)?);
    }
    for service in &catalog.services {
        changes
            .entry(("service", service.code.clone()))
            .or_default()
            .1 = Some(to_json(service)?);
    }
    for bundle in baseline.map_or(&[][..], |old| old.bundles.as_slice()) {
        changes
            .entry(("bundle", bundle.code.clone()))
            .or_default()
            .0 = Some(to_json(bundle)?);
    }
    for bundle in &catalog.bundles {
        changes
            .entry(("bundle", bundle.code.clone()))
            .or_default()
            .1 = Some(to_json(bundle)?);
    }
    Ok(changes)
}

/// Records a publication: the schedule row, then each service and bundle that differs from
/// `baseline` (the replaced content, or the version in force before this one). Returns how
/// many records were written.
#[tracing::instrument(skip_all, fields(schedule.version = %catalog.header.version))]
pub async fn record_publication(
    conn: &mut PgConnection,
    actor: &str,
    outcome: Outcome,
    baseline: Option<&Catalog>,
    catalog: &Catalog,
) -> Result<usize, AppError> {
    let version = &catalog.header.version;
    let action = match outcome {
        Outcome::Replaced => "schedule.replaced",
        _ => "schedule.created",
    };
    let header = |catalog: &Catalog| -> Result<Value, AppError> {
        let mut value = to_json(&catalog.header)?;
        if let Value::Object(map) = &mut value {
            map.insert("counts".to_owned(), to_json(&catalog.counts())?);
        }
        Ok(value)
    };
    let before = baseline.map(header).transpose()?;
    catalog_audit::insert(
        conn,
        NewAuditRecord {
            actor,
            action,
            schedule_version: version,
            subject: version,
            before,
            after: Some(header(catalog)?),
        },
    )
    .await?;
    let mut records = 1;
    for ((kind, code), (before, after)) in changes(baseline, catalog)? {
        let verb = match (&before, &after) {
            (Some(old), Some(new)) if old == new => continue,
            (Some(_), Some(_)) => "changed",
            (None, _) => "added",
            (_, None) => "removed",
        };
        catalog_audit::insert(
            conn,
            NewAuditRecord {
                actor,
                action: &format!("{kind}.{verb}"),
                schedule_version: version,
                subject: &code,
                before,
                after,
            },
        )
        .await?;
        records += 1;
    }
    Ok(records)
}

/// Which page of the log to read: of one version or all, `limit` records (1 to 500, default
/// 50) after `cursor`.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub schedule_version: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One page of the log, newest first, and the cursor of the next page.
#[tracing::instrument(skip_all, fields(schedule.version = filter.schedule_version.as_deref()))]
pub async fn list(
    conn: &mut PgConnection,
    filter: &AuditFilter,
) -> Result<(Vec<AuditRecord>, Option<String>), AppError> {
    let limit = crate::app::pagination::cursor::limit(filter.limit)?;
    if let Some(version) = &filter.schedule_version {
        if !crate::app::validation::is_lookup_text(version, 64) {
            return Err(AppError::validation(
                "schedule_version",
                "schedule_version must be a version name",
            ));
        }
    }
    let before_id = match &filter.cursor {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor)?),
    };
    let mut rows = catalog_audit::list(
        conn,
        filter.schedule_version.as_deref(),
        before_id,
        limit.saturating_add(1),
    )
    .await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    if more {
        rows.pop();
    }
    let next = if more {
        rows.last()
            .map(|row| URL_SAFE_NO_PAD.encode(json!(row.id).to_string()))
    } else {
        None
    };
    Ok((rows, next))
}

fn decode_cursor(cursor: &str) -> Result<i64, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| AppError::validation("cursor", "cursor is not one this API returned"))
}
