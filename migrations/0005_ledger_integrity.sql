-- Ledger integrity (issue 5): period close, the hash chain's tables, daily aggregates.
--
-- Everything here is added beside the rows of 0001; entries and postings stay append-only
-- and are never updated by any of it. Months are Cambodian calendar months (Asia/Phnom_Penh,
-- UTC+7 all year), the way offices close their books; aggregate days are UTC days, an
-- internal detail no one reads.

-- The transaction that wrote each entry. The sealer and the roll-up compare it with
-- pg_snapshot_xmin() to know which entries can no longer change or appear (ledger crate docs,
-- "Sealing"). Rows that exist already get the migration's own id, which is finished by the
-- time anyone reads it.
alter table ledger_entries add column txid xid8 not null default pg_current_xact_id();
create index ledger_entries_txid_idx on ledger_entries (txid, id);

-- A correction of a closed month posts into the open month and names the month it corrects.
alter table ledger_entries add column corrects_period date
    check (corrects_period = date_trunc('month', corrects_period)::date);

-- Trial balances add the postings since the last aggregated day, across offices.
create index ledger_postings_time_idx on ledger_postings (created_at);

create table ledger_closed_periods (
    office_code text not null check (office_code ~ '^[0-9A-Za-z]{1,8}$'),
    -- First day of the closed month.
    month date not null check (month = date_trunc('month', month)::date),
    closed_at timestamptz not null default now(),
    -- API key id, or 'cli'.
    closed_by text not null check (length(closed_by) between 1 and 100),
    primary key (office_code, month)
);

-- A closed month stays closed: reopening would let history change under signed digests.
create trigger ledger_closed_periods_append_only before update or delete on ledger_closed_periods
    for each row execute function ledger_refuse_change();
create trigger ledger_closed_periods_no_truncate before truncate on ledger_closed_periods
    for each statement execute function ledger_refuse_change();

-- Replaces 0001's function (same trigger) to add, in this order:
--   * txid first, so that an entry's transaction id is assigned before its time is read
--     (the roll-up relies on "created before midnight" implying "xid assigned before
--     midnight");
--   * the period lock and check: a shared advisory lock per office, held to commit, which
--     closing a month takes exclusively, so a month cannot close while one of its entries is
--     still in flight, and no entry can slip into a month after it closed;
--   * corrects_period: must name a closed month of the entry's office before the entry's
--     own month; the reversal of an entry of a closed month names that month by itself.
create or replace function ledger_entries_before_insert() returns trigger
language plpgsql as $$
declare
    original ledger_entries%rowtype;
    entry_month date;
begin
    new.txid := pg_current_xact_id();
    -- greatest(): should the system clock step back during the transaction, the entry still
    -- dates from within it, which the postings trigger relies on.
    new.created_at := greatest(clock_timestamp(), transaction_timestamp());
    entry_month := date_trunc('month', new.created_at at time zone 'Asia/Phnom_Penh')::date;
    perform pg_advisory_xact_lock_shared(1281586244, hashtext(new.office_code));
    if exists (select 1 from ledger_closed_periods
               where office_code = new.office_code and month = entry_month) then
        raise exception 'ledger period % of office % is closed', to_char(entry_month, 'YYYY-MM'), new.office_code
            using errcode = 'check_violation', constraint = 'ledger_entries_period_open',
                  hint = 'post the correction in the open month with corrects_period set';
    end if;
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
        if found and new.corrects_period is null then
            select month into new.corrects_period from ledger_closed_periods
            where office_code = original.office_code
              and month = date_trunc('month', original.created_at at time zone 'Asia/Phnom_Penh')::date;
        end if;
    end if;
    if new.corrects_period is not null and not exists (
        select 1 from ledger_closed_periods
        where office_code = new.office_code and month = new.corrects_period and month < entry_month
    ) then
        raise exception 'ledger entry corrects period % of office %, which is not a closed earlier month',
            to_char(new.corrects_period, 'YYYY-MM'), new.office_code
            using errcode = 'check_violation', constraint = 'ledger_entries_corrects_closed_period';
    end if;
    return new;
end;
$$;

-- The hash chain (ledger crate docs, "Sealing"): one row per sealed entry, written by one
-- sealer at a time, never updated. seq is the chain position (1, 2, ...); hash =
-- SHA-256(prev_hash || canonical encoding of the entry and its postings).
create table ledger_seals (
    entry_id bigint primary key references ledger_entries (id),
    seq bigint not null unique check (seq >= 1),
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32),
    sealed_at timestamptz not null default clock_timestamp()
);

create trigger ledger_seals_append_only before update or delete on ledger_seals
    for each row execute function ledger_refuse_change();
create trigger ledger_seals_no_truncate before truncate on ledger_seals
    for each statement execute function ledger_refuse_change();

-- The sealer's cursor: every entry with txid below horizon is sealed. Only the sealer
-- updates it, under its advisory lock.
create table ledger_seal_state (
    singleton boolean primary key default true check (singleton),
    horizon xid8 not null
);
insert into ledger_seal_state (horizon) values ('0'::xid8);

-- Daily digests of the chain, signed with Ed25519 by the service (payments crate). The
-- payload is the exact text that was signed.
create table ledger_digests (
    day date primary key,
    head_seq bigint not null check (head_seq >= 0),
    head_hash bytea not null check (length(head_hash) = 32),
    entry_count bigint not null check (entry_count >= 0),
    payload text not null,
    signature bytea not null check (length(signature) = 64),
    public_key bytea not null check (length(public_key) = 32),
    created_at timestamptz not null default now()
);

create trigger ledger_digests_append_only before update or delete on ledger_digests
    for each row execute function ledger_refuse_change();

-- Per account and UTC day totals, rolled up off the write path by a worker, so that a trial
-- balance reads aggregates up to a day plus the postings since. A day is aggregated once all
-- transactions that could still add postings to it have finished (ledger crate docs,
-- "Balances").
create table ledger_daily_balances (
    account_id bigint not null references ledger_accounts (id),
    day date not null,
    office_code text not null,
    debit_minor bigint not null check (debit_minor >= 0),
    credit_minor bigint not null check (credit_minor >= 0),
    balance_minor bigint not null,
    posting_count bigint not null check (posting_count > 0),
    primary key (account_id, day),
    check (balance_minor = debit_minor - credit_minor)
);
create index ledger_daily_balances_day_idx on ledger_daily_balances (day);

create trigger ledger_daily_balances_append_only before update or delete on ledger_daily_balances
    for each row execute function ledger_refuse_change();

-- Days before next_day are aggregated. mark_xid is pg_snapshot_xmax() taken after next_day
-- ended: once pg_snapshot_xmin() passes it, no transaction that began writing that day is
-- still running. Null next_day: nothing to roll up yet.
create table ledger_rollup_state (
    singleton boolean primary key default true check (singleton),
    next_day date,
    mark_xid xid8
);
insert into ledger_rollup_state (next_day) values (null);
