//! The audit trail: one newest-first list over catalog changes (`catalog_audit`), staff
//! actions (`staff_actions`, key and user management among them), period closes
//! (`ledger_closed_periods`), exception resolutions (`exception_resolutions`) and chain
//! verification runs (`ledger_verifications`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// One row of the trail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub at: DateTime<Utc>,
    /// `catalog`, `staff`, `access` (keys and people), `period_close`, `resolution`,
    /// `verification`.
    pub kind: String,
    /// The row's id within its source table (with `kind`, unique).
    pub id: String,
    /// `None`: national (catalog changes, verification runs, logins, key and user management).
    pub office_code: Option<String>,
    /// Who: a person's name, an API key's name (`key:NAME`), or `cli`.
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: serde_json::Value,
}

/// What to list.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub office_code: Option<String>,
    /// Case-insensitive part of the actor.
    pub actor: Option<String>,
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    /// `None`: every office; else only rows of these offices, plus catalog changes (national
    /// fee schedules every office charges).
    pub offices: Option<Vec<String>>,
    /// Rows strictly older than this `(at, kind, id)`.
    pub before: Option<(DateTime<Utc>, String, String)>,
    pub limit: i64,
}

/// The key and user management actions (shown as kind `access`).
pub const ACCESS_ACTIONS: [&str; 5] = [
    "key_created",
    "key_revoked",
    "user_created",
    "user_disabled",
    "password_reset",
];

/// The page of rows the query asks for, newest first.
pub async fn list(
    conn: &mut PgConnection,
    query: &AuditQuery,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let (before_at, before_kind, before_id) = match &query.before {
        Some((at, kind, id)) => (Some(*at), Some(kind.clone()), Some(id.clone())),
        None => (None, None, None),
    };
    // language=PostgreSQL
    sqlx::query_as::<_, AuditRow>(
        "with trail as (
            select c.occurred_at as at, 'catalog'::text as kind, c.id::text as id,
                   null::text as office_code, c.actor, c.action, c.subject,
                   jsonb_build_object('schedule_version', c.schedule_version,
                                      'before', c.before, 'after', c.after) as detail
            from catalog_audit c
          union all
            select a.at, case when a.action = any($9) then 'access' else 'staff' end, a.id::text,
                   a.office_code,
                   coalesce(a.detail->>'by', u.name, 'key:' || k.name, 'unknown'),
                   a.action, a.subject, a.detail
            from staff_actions a
            left join staff_users u on u.id = a.user_id and a.detail->>'by' is null
            left join api_keys k on k.id = a.api_key_id
          union all
            select p.closed_at, 'period_close', p.office_code || ':' || to_char(p.month, 'YYYY-MM'),
                   p.office_code,
                   coalesce(u.name, 'key:' || k.name, p.closed_by),
                   'period_closed', to_char(p.month, 'YYYY-MM'), '{}'::jsonb
            from ledger_closed_periods p
            left join staff_users u on p.closed_by like 'user:%'
                 and u.id::text = substr(p.closed_by, 6)
            left join api_keys k on p.closed_by like 'key:%' and k.id::text = substr(p.closed_by, 5)
          union all
            select r.created_at, 'resolution', r.id::text, r.office_code, r.created_by_name,
                   r.action, r.exception_id::text,
                   jsonb_strip_nulls(jsonb_build_object('reason', r.reason,
                       'write_off_to', r.write_off_to, 'bank_reference', r.bank_reference,
                       'approved_by', r.approved_by_name, 'ledger_entry_id', r.ledger_entry_id))
            from exception_resolutions r
          union all
            select v.started_at, 'verification', v.id::text, null, v.started_by,
                   case when v.status = 'finished' and v.ok then 'verified_ok'
                        when v.status = 'finished' then 'verified_failed'
                        else 'verification_' || v.status end,
                   v.id::text,
                   jsonb_strip_nulls(jsonb_build_object('entries_checked', v.entries_checked,
                       'entries_total', v.entries_total, 'error', v.error,
                       'first_bad_entry', v.report->'first_bad_entry', 'reason', v.report->'reason'))
            from ledger_verifications v
        )
        select at, kind, id, office_code, actor, action, subject, detail from trail
        where ($1::text is null or kind = $1)
          and ($2::text is null or office_code = $2)
          and ($3::text is null or actor ilike '%' || $3 || '%')
          and ($4::timestamptz is null or at >= $4)
          and ($5::timestamptz is null or at < $5)
          and ($6::text[] is null or office_code = any($6) or kind = 'catalog')
          and ($7::timestamptz is null or (at, kind, id) < ($7, $8::text, $10::text))
        order by at desc, kind desc, id desc
        limit $11",
    )
    .bind(query.kind.as_deref())
    .bind(query.office_code.as_deref())
    .bind(query.actor.as_deref())
    .bind(query.from)
    .bind(query.to)
    .bind(query.offices.as_deref())
    .bind(before_at)
    .bind(before_kind)
    .bind(&ACCESS_ACTIONS[..])
    .bind(before_id)
    .bind(query.limit)
    .fetch_all(conn)
    .await
}
