-- Double-entry ledger (DESIGN.md, "Ledger"): accounts, entries, postings.
--
-- The database holds the ledger's invariants on its own, so that no code path (a bug, a
-- migration script, someone at a psql prompt) can commit an unbalanced entry or rewrite
-- history:
--   * an entry has at least two postings that sum to zero per currency (checked at commit);
--   * entries and postings are append-only (no update, delete or truncate);
--   * postings are written in the entry's own transaction, in the entry's office, and carry
--     the entry's time, so an "as of" cut never splits an entry;
--   * an entry is reversed at most once, and a reversal is never reversed.
-- These triggers bind the application role; they do not bind a table owner or superuser
-- (who can disable triggers), so production runs the service under a role that owns nothing.
--
-- Room is left for later migrations: entries are immutable and ordered by id, which is what a
-- hash-chain seal table (entry id -> hash, sealed off the write path) needs; postings are
-- indexed by (account_id, created_at, id) for account statements, balances as of a time and
-- snapshot roll-ups; period close can add its own table without touching these rows. Every
-- table carries office_code so a PostgreSQL sharded by office stays possible.

create table ledger_accounts (
    id bigserial primary key,
    code text not null unique check (code ~ '^[0-9A-Za-z]{1,8}:[a-z0-9_:-]{1,100}:(KHR|USD)$'),
    -- No foreign key to offices: that table comes in a later migration, and the national
    -- suspense office must be able to hold accounts too.
    office_code text not null check (office_code ~ '^[0-9A-Za-z]{1,8}$'),
    kind text not null check (kind in ('clearing', 'cash_drawer', 'bank', 'revenue', 'suspense',
        'refunds_payable', 'bank_fees', 'cash_over_short')),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    normal_balance text not null check (normal_balance in ('debit', 'credit')),
    created_at timestamptz not null default now(),
    -- The code spells out office and currency (crate docs); the columns may not disagree.
    check (split_part(code, ':', 1) = office_code),
    check (right(code, 3) = currency),
    -- Target of the postings' (account_id, currency) foreign key, so that a posting can never
    -- carry another currency than its account's.
    unique (id, currency)
);

create table ledger_entries (
    id bigserial primary key,
    office_code text not null check (office_code ~ '^[0-9A-Za-z]{1,8}$'),
    -- The template the entry was made from (payment_confirmed, cash_receipt, reversal, ...).
    kind text not null check (kind ~ '^[a-z0-9_.-]{1,64}$'),
    description text not null check (length(description) between 1 and 1000),
    -- Global, not per office: keys name their source (e.g. "aba_payway:<transaction id>").
    idempotency_key text unique check (length(idempotency_key) between 1 and 255),
    -- Unique: the database itself makes reversing an entry twice impossible.
    reverses_entry_id bigint constraint ledger_entries_reverses_entry_id_key unique
        references ledger_entries (id),
    metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
    -- Set by the before-insert trigger to clock_timestamp(): entries cannot be back-dated.
    created_at timestamptz not null default clock_timestamp(),
    check (reverses_entry_id <> id)
);
create index ledger_entries_office_time_idx on ledger_entries (office_code, created_at, id);

create table ledger_postings (
    id bigserial primary key,
    entry_id bigint not null references ledger_entries (id),
    account_id bigint not null,
    currency char(3) not null,
    office_code text not null,
    -- Debit positive, credit negative; a zero line means nothing and is refused.
    amount_minor bigint not null check (amount_minor <> 0),
    -- Overwritten by the before-insert trigger with the entry's created_at.
    created_at timestamptz not null default clock_timestamp(),
    foreign key (account_id, currency) references ledger_accounts (id, currency)
);
create index ledger_postings_account_time_idx on ledger_postings (account_id, created_at, id);
create index ledger_postings_entry_idx on ledger_postings (entry_id);
create index ledger_postings_office_time_idx on ledger_postings (office_code, created_at);

-- Append-only. Corrections are reversal entries (TigerBeetle: "always add more transfers").
create function ledger_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'ledger rows are append-only'
        using errcode = 'restrict_violation',
              detail = format('%s on %s refused', tg_op, tg_table_name),
              hint = 'post a reversal entry instead';
end;
$$;

create trigger ledger_entries_append_only before update or delete on ledger_entries
    for each row execute function ledger_refuse_change();
create trigger ledger_entries_no_truncate before truncate on ledger_entries
    for each statement execute function ledger_refuse_change();
create trigger ledger_postings_append_only before update or delete on ledger_postings
    for each row execute function ledger_refuse_change();
create trigger ledger_postings_no_truncate before truncate on ledger_postings
    for each statement execute function ledger_refuse_change();

-- Accounts may gain mutable columns later (closing an account, say), but what names an
-- account may not change, or history would silently move to another account.
create function ledger_accounts_keep_identity() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE'
        and (new.id, new.code, new.office_code, new.kind, new.currency, new.normal_balance)
            is not distinct from (old.id, old.code, old.office_code, old.kind, old.currency, old.normal_balance)
    then
        return new;
    end if;
    raise exception 'ledger accounts cannot be renamed or deleted'
        using errcode = 'restrict_violation',
              detail = format('%s of account %s refused', tg_op, old.code);
end;
$$;

create trigger ledger_accounts_keep_identity before update or delete on ledger_accounts
    for each row execute function ledger_accounts_keep_identity();
create trigger ledger_accounts_no_truncate before truncate on ledger_accounts
    for each statement execute function ledger_refuse_change();

-- Entries take the clock of the database, never one supplied by the client, and a reversal
-- must reverse an original (not a reversal) of the same office.
create function ledger_entries_before_insert() returns trigger
language plpgsql as $$
declare
    original ledger_entries%rowtype;
begin
    -- greatest(): should the system clock step back during the transaction, the entry still
    -- dates from within it, which the postings trigger relies on.
    new.created_at := greatest(clock_timestamp(), transaction_timestamp());
    if new.reverses_entry_id is not null then
        select * into original from ledger_entries where id = new.reverses_entry_id;
        -- A missing original is left to the foreign key to report.
        if found and original.reverses_entry_id is not null then
            raise exception 'ledger entry % is a reversal and cannot be reversed', original.id
                using errcode = 'check_violation', constraint = 'ledger_entries_no_reversal_of_reversal';
        end if;
        if found and original.office_code <> new.office_code then
            raise exception 'ledger entry % belongs to office %, its reversal may not be posted in office %',
                original.id, original.office_code, new.office_code
                using errcode = 'check_violation', constraint = 'ledger_entries_reversal_same_office';
        end if;
    end if;
    return new;
end;
$$;

create trigger ledger_entries_before_insert before insert on ledger_entries
    for each row execute function ledger_entries_before_insert();

-- A posting joins an entry only in the transaction that created the entry (an old entry
-- gaining lines would change past balances), only in the entry's office, and with the
-- entry's time. "Created in this transaction" is read as "created at or after this
-- transaction started", which entries cannot fake because their time is the database's.
create function ledger_postings_before_insert() returns trigger
language plpgsql as $$
declare
    entry ledger_entries%rowtype;
    account_office text;
begin
    select * into entry from ledger_entries where id = new.entry_id;
    if not found then
        -- Left to the foreign key to report.
        return new;
    end if;
    if entry.created_at < transaction_timestamp() then
        raise exception 'ledger entry % was written by an earlier transaction; post a new entry instead', entry.id
            using errcode = 'check_violation', constraint = 'ledger_postings_same_transaction';
    end if;
    select office_code into account_office from ledger_accounts where id = new.account_id;
    if new.office_code <> entry.office_code or account_office <> entry.office_code then
        raise exception 'posting of ledger entry % (office %) names account % of office %',
            entry.id, entry.office_code, new.account_id, coalesce(account_office, new.office_code)
            using errcode = 'check_violation', constraint = 'ledger_postings_same_office';
    end if;
    new.created_at := entry.created_at;
    return new;
end;
$$;

create trigger ledger_postings_before_insert before insert on ledger_postings
    for each row execute function ledger_postings_before_insert();

-- The balance rule, checked at commit because an entry and its postings are separate
-- inserts. It runs once per inserted row (entry or posting); entries have a handful of lines,
-- so the repeated checks stay cheap and read only that entry's postings (by index).
create function ledger_check_entry(checked_entry_id bigint) returns void
language plpgsql as $$
declare
    posting_count bigint;
    unbalanced_currency text;
begin
    select count(*) into posting_count from ledger_postings where entry_id = checked_entry_id;
    if posting_count < 2 then
        raise exception 'ledger entry % has % posting(s); an entry needs at least 2', checked_entry_id, posting_count
            using errcode = 'check_violation', constraint = 'ledger_entries_balanced',
                  hint = 'insert an entry and all its postings in one transaction';
    end if;
    select currency into unbalanced_currency
    from ledger_postings
    where entry_id = checked_entry_id
    group by currency
    having sum(amount_minor) <> 0
    order by currency
    limit 1;
    if found then
        raise exception 'ledger entry % does not balance in %', checked_entry_id, unbalanced_currency
            using errcode = 'check_violation', constraint = 'ledger_entries_balanced';
    end if;
end;
$$;

create function ledger_entries_check_balanced() returns trigger
language plpgsql as $$
begin
    perform ledger_check_entry(new.id);
    return null;
end;
$$;

create function ledger_postings_check_balanced() returns trigger
language plpgsql as $$
begin
    perform ledger_check_entry(new.entry_id);
    return null;
end;
$$;

-- Initially deferred so the checks see the whole entry; `set constraints ... immediate` only
-- makes them fire earlier (and refuse the entry sooner), it cannot skip them.
create constraint trigger ledger_entries_balanced after insert on ledger_entries
    deferrable initially deferred
    for each row execute function ledger_entries_check_balanced();
create constraint trigger ledger_postings_balanced after insert on ledger_postings
    deferrable initially deferred
    for each row execute function ledger_postings_check_balanced();
