-- Monthly roll-ups of the dashboard (issue 16): a two-year national period read about 2.2
-- million rows of report_daily_revenue (3 s) and millions of daily counter rows; it now reads
-- one row per Cambodian month for the whole months of the period, the daily rows for the
-- edge days and the postings for the days not yet rolled up (db::reports). As for the trial
-- balance (0025), verify recomputes every monthly row from its daily rows.
--
-- Months are Cambodian months: the first day of the month of a Cambodian day (the daily
-- tables' `day` is already a Cambodian date).

-- Revenue and payments: like their daily tables, written once per month after all its days
-- are rolled up (db::reports::rollup_once), never changed.
create table report_monthly_revenue (
    month date not null check (month = date_trunc('month', month)::date),
    office_code text not null,
    sector text not null,
    channel text not null,
    currency char(3) not null check (currency in ('KHR', 'USD')),
    amount_minor bigint not null,
    payment_count bigint not null,
    primary key (month, office_code, sector, channel, currency)
);
create index report_monthly_revenue_office_idx on report_monthly_revenue (office_code, month);

create table report_monthly_payments (
    month date not null check (month = date_trunc('month', month)::date),
    office_code text not null,
    channel text not null,
    currency char(3) not null check (currency in ('KHR', 'USD')),
    payment_count bigint not null,
    primary key (month, office_code, channel, currency)
);
create index report_monthly_payments_office_idx on report_monthly_payments (office_code, month);

create trigger report_monthly_revenue_append_only before update or delete on report_monthly_revenue
    for each row execute function ledger_refuse_change();
create trigger report_monthly_payments_append_only before update or delete on report_monthly_payments
    for each row execute function ledger_refuse_change();

-- Months before next_month are in the two tables above (null: none yet); always at or before
-- the month of next_day. Only the roll-up, under the state row's lock, moves it.
alter table report_rollup_state add column next_month date
    check (next_month = date_trunc('month', next_month)::date);

-- The months a database already rolled up.
insert into report_monthly_revenue
    (month, office_code, sector, channel, currency, amount_minor, payment_count)
select date_trunc('month', d.day)::date, d.office_code, d.sector, d.channel, d.currency,
       sum(d.amount_minor), sum(d.payment_count)
from report_daily_revenue d, report_rollup_state s
where s.next_day is not null and d.day < date_trunc('month', s.next_day)::date
group by 1, 2, 3, 4, 5;
insert into report_monthly_payments (month, office_code, channel, currency, payment_count)
select date_trunc('month', d.day)::date, d.office_code, d.channel, d.currency,
       sum(d.payment_count)
from report_daily_payments d, report_rollup_state s
where s.next_day is not null and d.day < date_trunc('month', s.next_day)::date
group by 1, 2, 3, 4;
update report_rollup_state set next_month = date_trunc('month', next_day)::date
where next_day is not null;

-- Counters: monthly twins of report_intent_counts and report_paid_latency, kept exact at every
-- instant by the same statement-level triggers (every month, the current one included). Each
-- trigger upserts the daily rows first, then the monthly ones, each in one statement ordered
-- by its key, so every transaction locks counter rows in the same order (daily table by key,
-- then monthly table by key) and two never deadlock on them.
create table report_monthly_intent_counts (
    month date not null check (month = date_trunc('month', month)::date),
    office_code text not null,
    status text not null,
    -- No check (count >= 0), as in report_intent_counts: the upsert proposes the delta.
    count bigint not null,
    primary key (month, office_code, status)
);
create index report_monthly_intent_counts_office_idx
    on report_monthly_intent_counts (office_code, month);

create table report_monthly_paid_latency (
    month date not null check (month = date_trunc('month', month)::date),
    office_code text not null,
    bucket_seconds integer not null check (bucket_seconds >= 0),
    count bigint not null,
    primary key (month, office_code, bucket_seconds)
);
create index report_monthly_paid_latency_office_idx
    on report_monthly_paid_latency (office_code, month);

create or replace function report_intents_track_insert() returns trigger
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

    with changed as (
        select date_trunc('month', (n.created_at at time zone 'Asia/Phnom_Penh')::date)::date
                   as month,
               n.office_code, n.status, count(*)::bigint as delta
        from new_rows n
        group by 1, 2, 3
    )
    insert into report_monthly_intent_counts as c (month, office_code, status, count)
    select month, office_code, status, delta from changed
    order by month, office_code, status collate "C"
    on conflict (month, office_code, status) do update set count = c.count + excluded.count;

    with changed as (
        select date_trunc('month', (n.paid_at at time zone 'Asia/Phnom_Penh')::date)::date
                   as month,
               n.office_code,
               report_latency_bucket(extract(epoch from n.paid_at - n.created_at)) as bucket,
               count(*)::bigint as delta
        from new_rows n
        where n.status = 'paid' and n.paid_at is not null
        group by 1, 2, 3
    )
    insert into report_monthly_paid_latency as c (month, office_code, bucket_seconds, count)
    select month, office_code, bucket, delta from changed
    order by month, office_code, bucket
    on conflict (month, office_code, bucket_seconds) do update set count = c.count + excluded.count;
    return null;
end
$$;

create or replace function report_intents_track_update() returns trigger
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
        select date_trunc('month', (new_created at time zone 'Asia/Phnom_Penh')::date)::date
                   as month,
               new_office as office_code, new_status as status, 1 as delta
        from moved
        union all
        select date_trunc('month', (old_created at time zone 'Asia/Phnom_Penh')::date)::date,
               old_office, old_status, -1
        from moved
    ), summed as (
        select month, office_code, status, sum(delta)::bigint as delta
        from changed
        group by month, office_code, status
        having sum(delta) <> 0
    )
    insert into report_monthly_intent_counts as c (month, office_code, status, count)
    select month, office_code, status, delta from summed
    order by month, office_code, status collate "C"
    on conflict (month, office_code, status) do update set count = c.count + excluded.count;

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
        select date_trunc('month', (new_paid at time zone 'Asia/Phnom_Penh')::date)::date
                   as month,
               new_office as office_code,
               report_latency_bucket(extract(epoch from new_paid - new_created)) as bucket,
               1 as delta
        from moved
        where new_status = 'paid' and new_paid is not null
        union all
        select date_trunc('month', (old_paid at time zone 'Asia/Phnom_Penh')::date)::date,
               old_office, report_latency_bucket(extract(epoch from old_paid - old_created)), -1
        from moved
        where old_status = 'paid' and old_paid is not null
    ), summed as (
        select month, office_code, bucket, sum(delta)::bigint as delta
        from changed
        group by month, office_code, bucket
        having sum(delta) <> 0
    )
    insert into report_monthly_paid_latency as c (month, office_code, bucket_seconds, count)
    select month, office_code, bucket, delta from summed
    order by month, office_code, bucket
    on conflict (month, office_code, bucket_seconds) do update set count = c.count + excluded.count;
    return null;
end
$$;

create or replace function report_intents_track_delete() returns trigger
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

    with changed as (
        select date_trunc('month', (o.created_at at time zone 'Asia/Phnom_Penh')::date)::date
                   as month,
               o.office_code, o.status, -count(*)::bigint as delta
        from old_rows o
        group by 1, 2, 3
    )
    insert into report_monthly_intent_counts as c (month, office_code, status, count)
    select month, office_code, status, delta from changed
    order by month, office_code, status collate "C"
    on conflict (month, office_code, status) do update set count = c.count + excluded.count;

    with changed as (
        select date_trunc('month', (o.paid_at at time zone 'Asia/Phnom_Penh')::date)::date
                   as month,
               o.office_code,
               report_latency_bucket(extract(epoch from o.paid_at - o.created_at)) as bucket,
               -count(*)::bigint as delta
        from old_rows o
        where o.status = 'paid' and o.paid_at is not null
        group by 1, 2, 3
    )
    insert into report_monthly_paid_latency as c (month, office_code, bucket_seconds, count)
    select month, office_code, bucket, delta from changed
    order by month, office_code, bucket
    on conflict (month, office_code, bucket_seconds) do update set count = c.count + excluded.count;
    return null;
end
$$;

-- The counts that exist already, from the exact daily counters.
insert into report_monthly_intent_counts (month, office_code, status, count)
select date_trunc('month', day)::date, office_code, status, sum(count)
from report_intent_counts
group by 1, 2, 3;
insert into report_monthly_paid_latency (month, office_code, bucket_seconds, count)
select date_trunc('month', day)::date, office_code, bucket_seconds, sum(count)
from report_paid_latency
group by 1, 2, 3;
