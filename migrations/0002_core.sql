-- Core tables of the payment service: offices, catalog, keys, quotes, intents, attempts,
-- idempotency, the inbound bank-message inbox, reconciliation exceptions, receipts, the
-- transactional outbox and webhook delivery. Every hot table carries office_code so that a
-- later move to a PostgreSQL sharded by office stays open (DESIGN.md, "Scale").

create table offices (
    code text primary key check (code ~ '^[0-9A-Za-z]{1,8}$'),
    name_km text not null check (length(name_km) between 1 and 200),
    name_en text not null check (length(name_en) between 1 and 200),
    province_group text not null check (province_group in ('major', 'other')),
    -- Where KHQR payments to this office land (a Bakong merchant account), and the name and
    -- city the payer's bank app shows. Null until the office is set up for KHQR.
    bakong_account_id text check (bakong_account_id is null or bakong_account_id ~ '^[^@]+@[^@]+$'),
    bakong_merchant_id text,
    bakong_acquiring_bank text,
    merchant_name text check (merchant_name is null or length(merchant_name) <= 25),
    merchant_name_km text check (merchant_name_km is null or length(merchant_name_km) <= 25),
    merchant_city text check (merchant_city is null or length(merchant_city) <= 15),
    created_at timestamptz not null default now()
);

-- Money that arrives for a reference we cannot place has no office; it is parked in the
-- suspense account of this national "unallocated" office until someone resolves it.
insert into offices (code, name_km, name_en, province_group)
values ('0000', 'មិនទាន់កំណត់ការិយាល័យ', 'Unallocated (national suspense)', 'major');

create table sectors (
    code text primary key check (code ~ '^[a-z_]{1,40}$'),
    number integer not null unique,
    name_km text not null,
    name_en text not null
);

create table services (
    code text primary key check (length(code) between 1 and 64),
    sector_code text not null references sectors (code),
    name_km text not null,
    name_en text not null,
    currency char(3) not null check (currency in ('KHR', 'USD')),
    unit text not null,
    -- The fee rule is data, not code: a tagged JSON document read by the fee engine.
    fee_rule jsonb not null,
    time_limit_days integer check (time_limit_days is null or time_limit_days > 0),
    legal_basis text not null,
    source text not null,
    schedule_version text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index services_sector_idx on services (sector_code, code);

create table api_keys (
    id uuid primary key,
    name text not null,
    role text not null check (role in ('admin', 'workflow', 'cashier', 'supervisor', 'auditor')),
    office_codes text[] not null default '{}',
    -- SHA-256 of the secret; the secret itself is shown once and never stored.
    key_hash bytea not null unique check (length(key_hash) = 32),
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

create table quotes (
    id uuid primary key,
    office_code text not null references offices (code),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    total_minor bigint not null check (total_minor > 0),
    lines jsonb not null,
    schedule_version text not null,
    created_by uuid not null references api_keys (id),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);

create table payment_intents (
    id uuid primary key,
    office_code text not null references offices (code),
    quote_id uuid not null references quotes (id),
    case_reference text not null check (length(case_reference) between 1 and 64),
    payer jsonb not null default '{}',
    return_url text,
    status text not null check (status in ('awaiting_payment', 'paid', 'expired', 'cancelled')),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    total_minor bigint not null check (total_minor > 0),
    amount_paid_minor bigint not null default 0 check (amount_paid_minor >= 0),
    amount_refunded_minor bigint not null default 0 check (amount_refunded_minor >= 0),
    -- The citizen's unguessable link token (256 bits, base64url).
    pay_token text not null unique,
    receipt_number text unique,
    paid_channel text,
    created_by uuid not null references api_keys (id),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    expires_at timestamptz not null,
    paid_at timestamptz,
    cancelled_at timestamptz,
    check ((status = 'paid') = (paid_at is not null))
);
create index payment_intents_office_created_idx on payment_intents (office_code, created_at desc, id desc);
create index payment_intents_case_idx on payment_intents (case_reference);
create index payment_intents_expiry_idx on payment_intents (expires_at) where status = 'awaiting_payment';

create table payment_attempts (
    id uuid primary key,
    payment_intent_id uuid not null references payment_intents (id),
    office_code text not null references offices (code),
    channel text not null check (channel in ('khqr', 'aba_payway', 'acleda_xpay', 'wing', 'sandbox', 'cash')),
    status text not null check (status in ('pending', 'paid', 'expired', 'failed', 'cancelled')),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    amount_minor bigint not null check (amount_minor > 0),
    provider_reference text not null unique,
    checkout_url text,
    failure_reason text,
    provider_transaction_id text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    expires_at timestamptz not null,
    paid_at timestamptz
);
create index payment_attempts_intent_idx on payment_attempts (payment_intent_id, created_at);

create table idempotency_keys (
    principal text not null,
    key text not null check (length(key) between 1 and 255),
    request_hash bytea not null,
    -- Null while the request is still being worked on (a bank call between two transactions).
    response_status integer,
    response_body jsonb,
    created_at timestamptz not null default now(),
    primary key (principal, key)
);

-- Every inbound bank message is stored raw before anything else looks at it.
create table inbox_messages (
    id bigserial primary key,
    provider text not null,
    received_at timestamptz not null default now(),
    headers jsonb not null,
    body bytea not null,
    signature_valid boolean,
    status text not null default 'received'
        check (status in ('received', 'processed', 'duplicate', 'rejected', 'failed')),
    verdict text,
    provider_transaction_id text,
    processed_at timestamptz
);
create index inbox_messages_received_idx on inbox_messages (provider, received_at);

-- One effect per provider transaction: the primary key is the idempotency of bank messages.
create table provider_transactions (
    provider text not null,
    transaction_id text not null,
    inbox_message_id bigint references inbox_messages (id),
    payment_attempt_id uuid references payment_attempts (id),
    outcome text not null,
    ledger_entry_id bigint,
    created_at timestamptz not null default now(),
    primary key (provider, transaction_id)
);

create table reconciliation_exceptions (
    id uuid primary key,
    office_code text not null references offices (code),
    kind text not null check (kind in ('amount_mismatch', 'currency_mismatch', 'already_paid',
        'after_cancel', 'after_expiry', 'unknown_reference', 'unsupported_currency')),
    status text not null default 'open' check (status in ('open', 'resolved')),
    provider text not null,
    provider_transaction_id text not null,
    payment_intent_id uuid references payment_intents (id),
    payment_attempt_id uuid references payment_attempts (id),
    amount text not null,
    currency text not null,
    ledger_entry_id bigint,
    details jsonb not null default '{}',
    created_at timestamptz not null default now()
);
create index reconciliation_exceptions_office_idx on reconciliation_exceptions (office_code, created_at desc, id desc);

-- Receipt numbers are gapless per office and fiscal year: the counter moves in the same
-- transaction as the payment, so a rolled-back payment leaves no hole.
create table receipt_counters (
    office_code text not null references offices (code),
    fiscal_year integer not null,
    last_number bigint not null check (last_number > 0),
    primary key (office_code, fiscal_year)
);

create table outbox_events (
    id uuid primary key,
    event_type text not null,
    office_code text not null,
    case_reference text,
    payment_intent_id uuid,
    payload jsonb not null,
    created_at timestamptz not null default now()
);
create index outbox_events_intent_idx on outbox_events (payment_intent_id, created_at);

create table webhook_endpoints (
    id uuid primary key,
    url text not null,
    events text[] not null,
    -- The signing secret must be usable to sign, so it is stored, never logged, and shown once.
    secret text not null,
    status text not null default 'active' check (status in ('active', 'disabled')),
    description text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table webhook_deliveries (
    id uuid primary key,
    event_id uuid not null references outbox_events (id),
    endpoint_id uuid not null references webhook_endpoints (id),
    office_code text not null,
    status text not null default 'pending' check (status in ('pending', 'succeeded', 'dead')),
    attempt_count integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    leased_until timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    unique (event_id, endpoint_id)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending';

create table webhook_attempts (
    id bigserial primary key,
    delivery_id uuid not null references webhook_deliveries (id),
    attempted_at timestamptz not null default now(),
    status_code integer,
    latency_ms integer not null,
    error text
);
create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, attempted_at);
