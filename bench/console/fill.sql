-- Fills a seeded database to the scale the console pages are budgeted at (UI.md: 204 offices,
-- 2,000,000 intents): copies of one real intent per seeded office (made through the API first,
-- so their quote lines are what the service writes), spread over 204 offices and the past year.
-- 85% paid (by KHQR, sandbox or cash, paid minutes after creation), 10% expired, 4% cancelled,
-- and what was created in the last hour still awaiting payment. Receipt numbers are unique per
-- office and year, as the service's counter would hand them out.
--
-- psql -v total=2000000 -f fill.sql   (the templates are the intents that exist when it starts)
\set ON_ERROR_STOP on
set synchronous_commit = off;

-- The demo seed has a handful of offices; the country has 204. The missing ones are made here
-- (codes B001…), each paying through the quote of an existing office (the console pages read
-- an intent's lines from its quote; which office priced it does not change their cost).
insert into offices (code, name_km, name_en, province_group)
select 'B' || lpad(n::text, 3, '0'), 'ការិយាល័យសាកល្បង ' || n, 'Bench office ' || n, 'other'
from generate_series(1, 204 - (select count(*) from offices where code <> '0000')) as n
on conflict (code) do nothing;

create temporary table office_list as
select row_number() over (order by code) - 1 as n, code
from offices where code <> '0000';

create temporary table templates as
select row_number() over (order by office_code) - 1 as n, i.*
from (select distinct on (office_code) * from payment_intents order by office_code, created_at) i;

create temporary table counts as
select (select count(*) from templates)::bigint as templates,
       (select count(*) from office_list)::bigint as offices;

insert into payment_intents (
    id, office_code, quote_id, case_reference, payer, status, currency, total_minor,
    amount_paid_minor, receipt_number, paid_channel, created_by, created_at, updated_at,
    expires_at, paid_at, cancelled_at, pay_token_hash, exempt_from_open_case_limit)
select
    gen_random_uuid(), o.code, t.quote_id,
    'B' || g.i, t.payer,
    s.status, t.currency, t.total_minor,
    case when s.status = 'paid' then t.total_minor else 0 end,
    null,
    case when s.status = 'paid' then (array['khqr', 'sandbox', 'cash'])[1 + g.i % 3] end,
    t.created_by, c.created_at, c.created_at,
    c.created_at + interval '1 day',
    case when s.status = 'paid' then c.created_at + interval '7 minutes' end,
    case when s.status = 'cancelled' then c.created_at + interval '1 hour' end,
    sha256(('bench-' || g.i)::bytea),
    false
from generate_series(1, :total) as g(i)
join counts on true
join templates t on t.n = g.i % counts.templates
join office_list o on o.n = g.i % counts.offices
cross join lateral (
    select now() - (g.i::double precision / :total) * interval '365 days' as created_at
) c
cross join lateral (
    select case
        when c.created_at > now() - interval '1 hour' then 'awaiting_payment'
        when g.i % 100 < 85 then 'paid'
        when g.i % 100 < 95 then 'expired'
        else 'cancelled'
    end as status
) s;

-- Receipt numbers for the paid copies: office-year-sequence, after any the service issued.
update payment_intents p
set receipt_number = n.office_code || '-' || n.year || '-B' || lpad(n.seq::text, 7, '0')
from (
    select id, office_code,
           extract(year from paid_at at time zone 'Asia/Phnom_Penh')::int as year,
           row_number() over (partition by office_code,
                              extract(year from paid_at at time zone 'Asia/Phnom_Penh')
                              order by paid_at) as seq
    from payment_intents
    where status = 'paid' and receipt_number is null and case_reference like 'B%'
) n
where p.id = n.id;

analyze;
