-- Webhook delivery that never loses an event: order per case, secret rotation, endpoint health.

-- Deliveries of one case to one endpoint go out in the order their events were recorded:
-- a later one waits while an earlier one is undelivered. seq is that order.
alter table webhook_deliveries
    add column seq bigserial,
    add column case_key text;
update webhook_deliveries d
set case_key = e.office_code || ':' || coalesce(e.case_reference, e.id::text)
from outbox_events e
where e.id = d.event_id;
alter table webhook_deliveries alter column case_key set not null;
create index webhook_deliveries_case_order_idx on webhook_deliveries (endpoint_id, case_key, seq)
    where status <> 'succeeded';

-- Rotation: while the previous secret is still honoured, deliveries carry both signatures.
alter table webhook_endpoints
    add column previous_secret text,
    add column previous_secret_expires_at timestamptz,
    -- Health: failing_since is the first failure after the last success; an endpoint failing
    -- for three days is marked 'failing' (its events are kept and retried all the same).
    add column health text not null default 'healthy' check (health in ('healthy', 'failing')),
    add column failing_since timestamptz,
    add column last_success_at timestamptz,
    add constraint webhook_endpoints_previous_secret_check
        check ((previous_secret is null) = (previous_secret_expires_at is null));
