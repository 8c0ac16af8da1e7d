-- The dashboard's roll-ups (issue 16): the figures of /v1/reports/* and /console/reports read
-- these small tables instead of millions of intents and postings. Two kinds:
--
-- * Counters kept exact at every instant by statement-level triggers on payment_intents
--   (report_intent_counts, report_paid_latency). A statement's changes are summed first and
--   applied in one upsert ordered by the key, so two transactions lock counter rows in the
--   same order and never deadlock on them, and a bulk insert touches each counter row once.
-- * Revenue from the LEDGER (report_daily_revenue, report_daily_payments), so the dashboard's
--   revenue equals the books: rolled up per finished Cambodian day by the roll-up worker with
--   the xid horizon of ledger_daily_balances (report_rollup_state); reports read these rows
--   for the days before next_day and the postings (report_revenue_entries) for the rest.
--
-- Days are Cambodian days (Asia/Phnom_Penh, UTC+7, no daylight saving). The verify of
-- app::books recomputes every row of all four tables from its source.

create table report_intent_counts (
    -- Cambodian day of the intent's created_at.
    day date not null,
    office_code text not null,
    status text not null,
    -- No check (count >= 0): an upsert's proposed row carries the delta (-1) and PostgreSQL
    -- checks it before it finds the conflict; verify recomputes every count instead.
    count bigint not null,
    primary key (day, office_code, status)
);
create index report_intent_counts_office_idx on report_intent_counts (office_code, day);

-- Seconds from created_at to paid_at, in buckets of report_latency_bucket (1 minute under an
-- hour, 15 minutes under a day, 1 day under 30 days, one bucket beyond), per Cambodian day of
-- paid_at: the median is read from the summed histogram to that resolution.
create table report_paid_latency (
    day date not null,
    office_code text not null,
    -- The bucket's lower bound in seconds.
    bucket_seconds integer not null check (bucket_seconds >= 0),
    count bigint not null,
    primary key (day, office_code, bucket_seconds)
);
create index report_paid_latency_office_idx on report_paid_latency (office_code, day);

create function report_latency_bucket(seconds double precision) returns integer
language sql immutable as $$
    select case
        when seconds < 0 then 0
        when seconds < 3600 then (floor(seconds / 60) * 60)::integer
        when seconds < 86400 then (floor(seconds / 900) * 900)::integer
        when seconds < 30 * 86400 then (floor(seconds / 86400) * 86400)::integer
        else 30 * 86400
    end
$$;

-- PostgreSQL allows transition tables on one event per trigger: one function per event.
create function report_intents_track_insert() returns trigger
language plpgsql as $$
begin
    with changed as (
        select (n.created_at at time zone 'Asia/Phnom_Penh')::date as day, n.office_code,
               n.status, count(*)::bigint as delta
        from new_rows n
        group by 1, 2, 3
    )
    insert into report_intent_counts as c (day, office_code, status, count)
    select day, office_code, status, delta from changed
    order by day, office_code, status collate "C"
    on conflict (day, office_code, status) do update set count = c.count + excluded.count;

    with changed as (
        select (n.paid_at at time zone 'Asia/Phnom_Penh')::date as day, n.office_code,
               report_latency_bucket(extract(epoch from n.paid_at - n.created_at)) as bucket,
               count(*)::bigint as delta
        from new_rows n
        where n.status = 'paid' and n.paid_at is not null
        group by 1, 2, 3
    )
    insert into report_paid_latency as c (day, office_code, bucket_seconds, count)
    select day, office_code, bucket, delta from changed
    order by day, office_code, bucket
    on conflict (day, office_code, bucket_seconds) do update set count = c.count + excluded.count;
    return null;
end
$$;

create function report_intents_track_update() returns trigger
language plpgsql as $$
begin
    -- Only rows whose counted fields changed: most updates (receipt numbers, tokens) skip.
    with moved as (
        select o.created_at as old_created, o.office_code as old_office, o.status as old_status,
               o.paid_at as old_paid,
               n.created_at as new_created, n.office_code as new_office, n.status as new_status,
               n.paid_at as new_paid
        from old_rows o
        join new_rows n on n.id = o.id
        where (o.created_at, o.office_code, o.status, o.paid_at)
              is distinct from (n.created_at, n.office_code, n.status, n.paid_at)
    ), changed as (
        select (new_created at time zone 'Asia/Phnom_Penh')::date as day, new_office as office_code,
               new_status as status, 1 as delta
        from moved
        union all
        select (old_created at time zone 'Asia/Phnom_Penh')::date, old_office, old_status, -1
        from moved
    ), summed as (
        select day, office_code, status, sum(delta)::bigint as delta
        from changed
        group by day, office_code, status
        having sum(delta) <> 0
    )
    insert into report_intent_counts as c (day, office_code, status, count)
    select day, office_code, status, delta from summed
    order by day, office_code, status collate "C"
    on conflict (day, office_code, status) do update set count = c.count + excluded.count;

    with moved as (
        select o.created_at as old_created, o.office_code as old_office, o.status as old_status,
               o.paid_at as old_paid,
               n.created_at as new_created, n.office_code as new_office, n.status as new_status,
               n.paid_at as new_paid
        from old_rows o
        join new_rows n on n.id = o.id
        where (o.created_at, o.office_code, o.status, o.paid_at)
              is distinct from (n.created_at, n.office_code, n.status, n.paid_at)
    ), changed as (
        select (new_paid at time zone 'Asia/Phnom_Penh')::date as day, new_office as office_code,
               report_latency_bucket(extract(epoch from new_paid - new_created)) as bucket,
               1 as delta
        from moved
        where new_status = 'paid' and new_paid is not null
        union all
        select (old_paid at time zone 'Asia/Phnom_Penh')::date, old_office,
               report_latency_bucket(extract(epoch from old_paid - old_created)), -1
        from moved
        where old_status = 'paid' and old_paid is not null
    ), summed as (
        select day, office_code, bucket, sum(delta)::bigint as delta
        from changed
        group by day, office_code, bucket
        having sum(delta) <> 0
    )
    insert into report_paid_latency as c (day, office_code, bucket_seconds, count)
    select day, office_code, bucket, delta from summed
    order by day, office_code, bucket
    on conflict (day, office_code, bucket_seconds) do update set count = c.count + excluded.count;
    return null;
end
$$;

create function report_intents_track_delete() returns trigger
language plpgsql as $$
begin
    with changed as (
        select (o.created_at at time zone 'Asia/Phnom_Penh')::date as day, o.office_code,
               o.status, -count(*)::bigint as delta
        from old_rows o
        group by 1, 2, 3
    )
    insert into report_intent_counts as c (day, office_code, status, count)
    select day, office_code, status, delta from changed
    order by day, office_code, status collate "C"
    on conflict (day, office_code, status) do update set count = c.count + excluded.count;

    with changed as (
        select (o.paid_at at time zone 'Asia/Phnom_Penh')::date as day, o.office_code,
               report_latency_bucket(extract(epoch from o.paid_at - o.created_at)) as bucket,
               -count(*)::bigint as delta
        from old_rows o
        where o.status = 'paid' and o.paid_at is not null
        group by 1, 2, 3
    )
    insert into report_paid_latency as c (day, office_code, bucket_seconds, count)
    select day, office_code, bucket, delta from changed
    order by day, office_code, bucket
    on conflict (day, office_code, bucket_seconds) do update set count = c.count + excluded.count;
    return null;
end
$$;

create trigger report_intents_insert after insert on payment_intents
    referencing new table as new_rows
    for each statement execute function report_intents_track_insert();
create trigger report_intents_update after update on payment_intents
    referencing old table as old_rows new table as new_rows
    for each statement execute function report_intents_track_update();
create trigger report_intents_delete after delete on payment_intents
    referencing old table as old_rows
    for each statement execute function report_intents_track_delete();

-- The intents that exist already.
insert into report_intent_counts (day, office_code, status, count)
select (created_at at time zone 'Asia/Phnom_Penh')::date, office_code, status, count(*)
from payment_intents
group by 1, 2, 3;
insert into report_paid_latency (day, office_code, bucket_seconds, count)
select (paid_at at time zone 'Asia/Phnom_Penh')::date, office_code,
       report_latency_bucket(extract(epoch from paid_at - created_at)), count(*)
from payment_intents
where status = 'paid' and paid_at is not null
group by 1, 2, 3;

-- Revenue as the books say it: one row per entry, revenue sector and currency, for entries
-- created in [from_at, to_at). amount_minor is the credit to revenue (a reversal's debit is
-- negative); channel comes from the entry's other side (clearing:{channel} → that channel,
-- a cash drawer → cash, anything else, such as suspense for an allocation → other);
-- payment_sign is 1 for a payment (a bank or KHQR payment, a cash receipt, an exception
-- allocated to an intent), -1 for the reversal of one (a voided cash receipt), 0 otherwise.
create function report_revenue_entries(from_at timestamptz, to_at timestamptz)
returns table (entry_id bigint, day date, office_code text, sector text, channel text,
               currency text, amount_minor bigint, payment_sign integer)
language sql stable as $$
    select e.id, (e.created_at at time zone 'Asia/Phnom_Penh')::date, e.office_code,
           split_part(a.code, ':', 3), coalesce(ch.channel, 'other'), p.currency::text,
           (-sum(p.amount_minor))::bigint,
           case
               when e.kind in ('payment_confirmed', 'cash_receipt', 'exception_allocated') then 1
               when e.kind = 'reversal'
                    and o.kind in ('payment_confirmed', 'cash_receipt', 'exception_allocated') then -1
               else 0
           end
    from ledger_postings p
    join ledger_accounts a on a.id = p.account_id and a.kind = 'revenue'
    join ledger_entries e on e.id = p.entry_id
    left join ledger_entries o on o.id = e.reverses_entry_id
    left join lateral (
        select case when a2.kind = 'cash_drawer' then 'cash' else split_part(a2.code, ':', 3) end
                   as channel
        from ledger_postings p2
        join ledger_accounts a2 on a2.id = p2.account_id
        where p2.entry_id = e.id and a2.kind in ('clearing', 'cash_drawer')
        order by p2.id
        limit 1
    ) ch on true
    where p.created_at >= from_at and p.created_at < to_at
    group by e.id, e.created_at, e.office_code, e.kind, o.kind, split_part(a.code, ':', 3),
             ch.channel, p.currency
$$;

-- Revenue per Cambodian day, office, sector, channel and currency; payment_count counts the
-- payments with a line of this sector (a payment of two sectors counts in each).
create table report_daily_revenue (
    day date not null,
    office_code text not null,
    sector text not null,
    channel text not null,
    currency char(3) not null check (currency in ('KHR', 'USD')),
    amount_minor bigint not null,
    payment_count bigint not null,
    primary key (day, office_code, sector, channel, currency)
);
create index report_daily_revenue_office_idx on report_daily_revenue (office_code, day);

-- Payments per Cambodian day, office, channel and currency, each counted once (by-office and
-- by-day counts equal the number of payments).
create table report_daily_payments (
    day date not null,
    office_code text not null,
    channel text not null,
    currency char(3) not null check (currency in ('KHR', 'USD')),
    payment_count bigint not null,
    primary key (day, office_code, channel, currency)
);
create index report_daily_payments_office_idx on report_daily_payments (office_code, day);

-- Like ledger_daily_balances: written once per finished day by the roll-up, never changed.
create trigger report_daily_revenue_append_only before update or delete on report_daily_revenue
    for each row execute function ledger_refuse_change();
create trigger report_daily_payments_append_only before update or delete on report_daily_payments
    for each row execute function ledger_refuse_change();

-- Cambodian days before next_day are in the two tables above; mark_xid as in
-- ledger_rollup_state. Null next_day: nothing rolled up yet (reports read postings only).
create table report_rollup_state (
    singleton boolean primary key default true check (singleton),
    next_day date,
    mark_xid xid8
);
insert into report_rollup_state (next_day) values (null);
