//! The store of the transactional outbox: events, and a delivery per subscribed endpoint.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// The columns of [`insert_events`], one entry per event, in order.
pub struct EventColumns<'a> {
    pub ids: Vec<Uuid>,
    pub types: Vec<&'static str>,
    pub offices: Vec<&'a str>,
    pub cases: Vec<Option<&'a str>>,
    pub intents: Vec<Option<Uuid>>,
    pub payloads: Vec<Value>,
    /// The key that orders an endpoint's deliveries: a case's go out in `seq` order.
    pub case_keys: Vec<String>,
}

/// Records the events, a delivery per subscribed active endpoint in event order, and, when
/// there is one, a NOTIFY that wakes the dispatchers at commit (NOTIFY is transactional) so
/// delivery does not wait for the next poll. The deliveries' foreign key to their event is
/// checked at the end of the statement, when the event rows exist.
pub async fn insert_events(
    conn: impl PgExecutor<'_>,
    events: &EventColumns<'_>,
    created_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // language=PostgreSQL
    sqlx::query!(
        "with input as (
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::jsonb[], $8::text[])
                 with ordinality as t (id, event_type, office_code, case_reference, payment_intent_id, payload, case_key, position)
         ),
         events as (
             insert into outbox_events (id, event_type, office_code, case_reference, payment_intent_id, payload, created_at)
             select id, event_type, office_code, case_reference, payment_intent_id, payload, $7 from input
             order by position
             returning id
         ),
         fanned as (
             insert into webhook_deliveries (id, event_id, endpoint_id, office_code, case_key)
             select gen_random_uuid(), input.id, endpoint.id, input.office_code, input.case_key
             from input
             join events on events.id = input.id
             join webhook_endpoints endpoint
               on endpoint.status = 'active'
              and (input.event_type = any(endpoint.events) or '*' = any(endpoint.events))
             order by input.position, endpoint.id
             returning 1
         )
         select pg_notify('webhook_deliveries', '') from (select count(*) as n from fanned) f where n > 0",
        &events.ids as _,
        &events.types as _,
        &events.offices as _,
        &events.cases as _,
        &events.intents as _,
        &events.payloads as _,
        created_at,
        &events.case_keys as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}
