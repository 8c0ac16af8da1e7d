-- Nothing received is forgotten, and no payment a bank took stays unknown.

-- An inbox message a crash left 'received' is processed again by a worker (any instance);
-- the lease keeps two instances off the same message while one works on it.
alter table inbox_messages add column retry_leased_until timestamptz;
create index inbox_messages_unprocessed_idx on inbox_messages (received_at) where status = 'received';

-- Sandbox attempts the service asks the bank about, in case no callback ever arrives.
-- status_check_at is the next time to ask (null once settled or finally checked after the
-- attempt's expiry plus a grace period); the lease keeps two instances off one attempt.
alter table payment_attempts
    add column status_check_at timestamptz,
    add column status_checks integer not null default 0,
    add column status_leased_until timestamptz;
create index payment_attempts_status_due_idx on payment_attempts (status_check_at)
    where status_check_at is not null;
-- Attempts open when this lands are asked about too.
update payment_attempts set status_check_at = now() where channel = 'sandbox' and status = 'pending';

-- Idempotency keys expire after 24 hours; the sweep deletes by age.
create index idempotency_keys_created_idx on idempotency_keys (created_at);
