-- The cashier's drawer (issue 14): a drawer opened with a float, cash taken against intents
-- through the settlement path, receipts voided the same day with a supervisor's approval,
-- the drawer closed by counting notes, and its cash deposited at the bank.
--
-- Amounts are minor units per currency in their own columns (KHR and USD are the only
-- currencies the books keep, 0001's check): a drawer's sums are plain SQL, no JSON money.

-- Cash on its way from the drawer to the bank: D cash-in-transit · C cash:drawer at the
-- deposit; the reconciliation posts D bank · C cash-in-transit once the statement shows it.
alter table ledger_accounts drop constraint ledger_accounts_kind_check;
alter table ledger_accounts add constraint ledger_accounts_kind_check check (kind in ('clearing',
    'cash_drawer', 'bank', 'revenue', 'suspense', 'refunds_payable', 'bank_fees',
    'cash_over_short', 'cash_in_transit'));

-- One drawer, from opening to closing. The API calls it a cashier session.
create table cashier_sessions (
    id uuid primary key,
    office_code text not null references offices (code),
    -- The cashier: a person (staff_users) or a cashier API key, exactly one.
    cashier_user_id uuid references staff_users (id),
    cashier_key_id uuid references api_keys (id),
    -- As printed on receipts and the drawer report, kept as it was that day.
    cashier_name text not null check (length(cashier_name) between 1 and 200),
    status text not null check (status in ('open', 'closed')),
    -- The change fund the drawer starts with. It is the office's own cash, not fee revenue,
    -- and is not posted to the ledger: cash:drawer holds receipts - voids +/- variance -
    -- deposits, and the float stays in the drawer for the next day.
    float_khr_minor bigint not null default 0 check (float_khr_minor >= 0),
    float_usd_minor bigint not null default 0 check (float_usd_minor >= 0),
    -- [{"currency","value","count"}]: the float as counted by denomination, when given.
    float_denominations jsonb not null default '[]' check (jsonb_typeof(float_denominations) = 'array'),
    opened_at timestamptz not null default now(),
    closed_at timestamptz,
    -- Set at close: the float plus receipts less voids, what was counted, and the difference.
    expected_khr_minor bigint,
    expected_usd_minor bigint,
    counted_khr_minor bigint check (counted_khr_minor >= 0),
    counted_usd_minor bigint check (counted_usd_minor >= 0),
    variance_khr_minor bigint,
    variance_usd_minor bigint,
    counted_denominations jsonb check (jsonb_typeof(counted_denominations) = 'array'),
    -- Who signed off a variance (a supervisor other than the cashier).
    variance_approver_user_id uuid references staff_users (id),
    variance_approver_key_id uuid references api_keys (id),
    variance_approver_name text,
    -- The over/short entries posted at close, one per currency with a variance.
    variance_entry_ids bigint[] not null default '{}',
    check (num_nonnulls(cashier_user_id, cashier_key_id) = 1),
    check ((status = 'closed') = (closed_at is not null)),
    check (status = 'open' or (expected_khr_minor is not null and expected_usd_minor is not null
        and counted_khr_minor is not null and counted_usd_minor is not null))
);
-- One open drawer per cashier and office.
create unique index cashier_sessions_one_open on cashier_sessions
    (office_code, coalesce(cashier_user_id, cashier_key_id)) where status = 'open';
create index cashier_sessions_office_idx on cashier_sessions (office_code, opened_at desc);

-- One row per cash payment. Its id is the provider transaction id of the `cash` report that
-- settled it (provider_transactions claims it once), and the cash attempt's reference.
create table cash_receipts (
    id uuid primary key,
    session_id uuid not null references cashier_sessions (id),
    office_code text not null references offices (code),
    payment_intent_id uuid not null references payment_intents (id),
    payment_attempt_id uuid not null unique references payment_attempts (id),
    ledger_entry_id bigint not null references ledger_entries (id),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    amount_minor bigint not null check (amount_minor > 0),
    tendered_minor bigint not null,
    change_minor bigint not null check (change_minor >= 0),
    cashier_user_id uuid references staff_users (id),
    cashier_key_id uuid references api_keys (id),
    cashier_name text not null,
    created_at timestamptz not null default now(),
    -- The receipt number, copied here when the receipt is voided: payment_intents holds one
    -- number per intent, and a reopened intent paid again gets a new one, while the voided
    -- number stays used and the verify page still finds it here, void.
    receipt_number text unique,
    voided_at timestamptz,
    void_reason text check (length(void_reason) between 1 and 500),
    void_requested_by_user_id uuid references staff_users (id),
    void_requested_by_key_id uuid references api_keys (id),
    void_approver_user_id uuid references staff_users (id),
    void_approver_key_id uuid references api_keys (id),
    void_approver_name text,
    reversal_entry_id bigint references ledger_entries (id),
    -- What became of the intent: awaiting payment again, or cancelled.
    void_then text check (void_then in ('reopen', 'cancel')),
    check (tendered_minor = amount_minor + change_minor),
    check (num_nonnulls(cashier_user_id, cashier_key_id) = 1),
    check ((voided_at is null) = (reversal_entry_id is null)),
    check (voided_at is null or (receipt_number is not null and void_reason is not null
        and void_then is not null and void_approver_name is not null))
);
create index cash_receipts_session_idx on cash_receipts (session_id, created_at);
create index cash_receipts_intent_idx on cash_receipts (payment_intent_id);

-- A closed drawer's cash taken to the bank.
create table cash_deposits (
    id uuid primary key,
    session_id uuid not null references cashier_sessions (id),
    office_code text not null references offices (code),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    amount_minor bigint not null check (amount_minor > 0),
    slip_reference text not null check (length(slip_reference) between 1 and 64),
    bank_account text check (length(bank_account) between 1 and 40),
    ledger_entry_id bigint not null references ledger_entries (id),
    created_by_user_id uuid references staff_users (id),
    created_by_key_id uuid references api_keys (id),
    created_by_name text not null,
    created_at timestamptz not null default now(),
    check (num_nonnulls(created_by_user_id, created_by_key_id) = 1)
);
create index cash_deposits_session_idx on cash_deposits (session_id, created_at);
