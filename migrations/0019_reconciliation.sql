-- Reconciliation with the bank (issue 15): the offices' bank accounts, statements kept as
-- received next to their parsed lines, the matches between statement lines and ledger items,
-- and the resolutions that work exceptions to zero.
--
-- A "ledger item" is a debit posting to a clearing or cash-in-transit account (money the
-- ledger says is on its way to the bank: an online payment, a suspense arrival, a cash
-- deposit) or a credit posting to refunds-payable (money the ledger says will leave the
-- bank). It is named by the posting's id, so it is matched at most once, whatever happens.

-- Money written off to income (a payment nobody can place, after approval) and losses
-- written off against it: a revenue-like account outside the fee sectors.
alter table ledger_accounts drop constraint ledger_accounts_kind_check;
alter table ledger_accounts add constraint ledger_accounts_kind_check check (kind in ('clearing',
    'cash_drawer', 'bank', 'revenue', 'suspense', 'refunds_payable', 'bank_fees',
    'cash_over_short', 'cash_in_transit', 'other_income'));

-- The accounts of an office at Bakong and at banks, one row per currency. `account_id` is
-- how statements name the account (a Bakong account id such as `owso_0320@demo`, or a bank
-- account number); `ledger_segment` names its `bank:{segment}` ledger account; `channels`
-- says whose money lands there (`khqr`, `sandbox`, a gateway, `cash` for deposits).
create table office_accounts (
    account_id text not null check (length(account_id) between 1 and 64
        and account_id ~ '^[A-Za-z0-9_.@-]+$'),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    office_code text not null references offices (code),
    kind text not null check (kind in ('bakong', 'bank')),
    ledger_segment text not null check (ledger_segment ~ '^[a-z0-9_-]{1,40}$'),
    channels text[] not null check (cardinality(channels) between 1 and 16),
    created_at timestamptz not null default now(),
    primary key (account_id, currency)
);
create index office_accounts_office_idx on office_accounts (office_code);
-- A channel's money for one office and currency lands in exactly one account.
create table office_account_channels (
    office_code text not null references offices (code),
    currency char(3) not null,
    channel text not null check (length(channel) between 1 and 40),
    account_id text not null,
    primary key (office_code, currency, channel),
    foreign key (account_id, currency) references office_accounts (account_id, currency)
);

-- A bank statement as received: the raw bytes and their SHA-256 (the same file twice is one
-- statement), and the period it covers. Overlapping periods of one account are refused by the
-- service under a lock of the account's rows (several instances stay correct).
create table bank_statements (
    id uuid primary key,
    account_id text not null,
    office_code text not null references offices (code),
    format text not null check (format in ('camt053', 'csv')),
    sha256 bytea not null unique check (length(sha256) = 32),
    raw bytea not null,
    -- The bank's own statement id (camt `Stmt/Id`), when it gives one.
    bank_statement_id text check (length(bank_statement_id) <= 140),
    period_from date not null,
    period_to date not null check (period_to >= period_from),
    line_count integer not null check (line_count >= 0),
    created_by_user_id uuid references staff_users (id),
    created_by_key_id uuid references api_keys (id),
    created_by_name text not null,
    created_at timestamptz not null default now(),
    check (num_nonnulls(created_by_user_id, created_by_key_id) = 1)
);
create index bank_statements_account_idx on bank_statements (account_id, period_from);
create index bank_statements_office_idx on bank_statements (office_code, period_from desc);

-- One line of a statement (a camt `Ntry`, a CSV row). A batch settlement is one line whose
-- `details` lists its parts ([{"transaction_id","reference","amount_minor"}]).
create table statement_lines (
    id uuid primary key,
    statement_id uuid not null references bank_statements (id),
    office_code text not null references offices (code),
    account_id text not null,
    line_no integer not null check (line_no > 0),
    booking_date date not null,
    transaction_id text check (length(transaction_id) between 1 and 140),
    reference text check (length(reference) between 1 and 140),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    -- Minor units, always positive; the direction says which way the money went.
    amount_minor bigint not null check (amount_minor > 0 and amount_minor < 1000000000000000),
    direction text not null check (direction in ('CRDT', 'DBIT')),
    description text check (length(description) <= 500),
    details jsonb not null default '[]' check (jsonb_typeof(details) = 'array'),
    unique (statement_id, line_no)
);
create index statement_lines_account_day_idx on statement_lines (account_id, booking_date);
create index statement_lines_transaction_idx on statement_lines (transaction_id);

-- A statement line paired with the ledger items it settles: one line, one or more items
-- (a batch), one entry moving the money to the bank (and any fee to bank-fees). An item is
-- matched once (unique posting), a line once (unique line).
create table reconciliation_matches (
    id uuid primary key,
    statement_line_id uuid not null unique references statement_lines (id),
    office_code text not null references offices (code),
    -- exact, fee_deducted, batch, batch_by_sum, late, manual
    method text not null check (length(method) between 1 and 32),
    fee_minor bigint not null default 0 check (fee_minor >= 0),
    ledger_entry_id bigint not null references ledger_entries (id),
    -- Null when the matching ran automatically on upload.
    created_by_user_id uuid references staff_users (id),
    created_by_key_id uuid references api_keys (id),
    created_by_name text,
    created_at timestamptz not null default now()
);
create table reconciliation_match_items (
    match_id uuid not null references reconciliation_matches (id),
    posting_id bigint not null unique references ledger_postings (id),
    ledger_entry_id bigint not null references ledger_entries (id),
    amount_minor bigint not null check (amount_minor > 0),
    primary key (match_id, posting_id)
);

-- Exceptions of statements: a line nobody matched, an item the bank never showed.
alter table reconciliation_exceptions drop constraint reconciliation_exceptions_kind_check;
alter table reconciliation_exceptions add constraint reconciliation_exceptions_kind_check
    check (kind in ('amount_mismatch', 'currency_mismatch', 'account_mismatch', 'already_paid',
        'after_cancel', 'after_expiry', 'unknown_reference', 'unsupported_currency',
        'channel_mismatch', 'unmatched_statement_line', 'unmatched_ledger_item'));
alter table reconciliation_exceptions add column statement_line_id uuid unique references statement_lines (id);
-- The posting of an unmatched ledger item (one open exception per item at a time).
alter table reconciliation_exceptions add column item_posting_id bigint references ledger_postings (id);
alter table reconciliation_exceptions add column account_id text;
-- The day the exception is about (the line's booking date, the item's Cambodian date);
-- its age counts from created_at.
alter table reconciliation_exceptions add column business_date date;
alter table reconciliation_exceptions add column resolved_at timestamptz;
create unique index reconciliation_exceptions_one_open_per_item on reconciliation_exceptions (item_posting_id)
    where status = 'open' and item_posting_id is not null;
create index reconciliation_exceptions_open_idx on reconciliation_exceptions (office_code, created_at)
    where status = 'open';

-- What someone (or the matcher) did about an exception. Append-only: a resolution is undone
-- only by a later `reverse` resolution naming it, which posts the reversal of its entry.
create table exception_resolutions (
    id uuid primary key,
    exception_id uuid not null references reconciliation_exceptions (id),
    office_code text not null references offices (code),
    -- allocate, refund, write_off, match, matched_later, reverse
    action text not null check (action in ('allocate', 'refund', 'write_off', 'match',
        'matched_later', 'reverse')),
    reason text not null check (length(reason) between 1 and 1000),
    payment_intent_id uuid references payment_intents (id),
    bank_reference text check (length(bank_reference) between 1 and 140),
    -- write_off: suspense, income or bank_fees
    write_off_to text check (write_off_to in ('suspense', 'income', 'bank_fees')),
    match_id uuid references reconciliation_matches (id),
    reverses_resolution_id uuid unique references exception_resolutions (id),
    ledger_entry_id bigint references ledger_entries (id),
    approved_by_user_id uuid references staff_users (id),
    approved_by_name text,
    created_by_user_id uuid references staff_users (id),
    created_by_key_id uuid references api_keys (id),
    created_by_name text not null,
    created_at timestamptz not null default now()
);
create index exception_resolutions_exception_idx on exception_resolutions (exception_id, created_at);

create function exception_resolutions_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'exception_resolutions is append-only';
end $$;
create trigger exception_resolutions_append_only before update or delete on exception_resolutions
    for each statement execute function exception_resolutions_append_only();

create function bank_statements_append_only() returns trigger language plpgsql as $$
begin
    raise exception '% is append-only: statements are kept as received', tg_table_name;
end $$;
create trigger bank_statements_append_only before update or delete on bank_statements
    for each statement execute function bank_statements_append_only();
create trigger statement_lines_append_only before update or delete on statement_lines
    for each statement execute function bank_statements_append_only();
