-- `make demo-data`, step 1 of 2 (scripts/demo-data.sh): the country's 204 offices and
-- :years years of their payments, everything but the ledger (bench/books/ledger.sql writes
-- that next, from the staging tables left here in schema demo_gen).
--
-- psql -v intents=4000000 -v years=2 -v seed=0.16 -f fill.sql
--   on a database that `payments migrate` and `payments seed --demo` made.
--
-- What it writes is what the service would have written, row for row, for the same history:
--   * offices with their province (geocode: two digits of province, two of district), the demo
--     offices 0320 and 1201 among them, of different sizes (a weight per office; Phnom Penh and
--     the big provincial towns busier), so a revenue ranking means something; a cashier and a
--     supervisor per generated office (the demo password);
--   * per office one quote per basket of services (one or several lines, several sectors,
--     priced from the published catalog's fixed and per-unit fees, lines shaped as
--     app::quotes::QuoteLine writes them). The service makes one quote per intent; here the
--     intents of one office and basket share theirs, since nothing reads a quote's identity
--     and 4 M copies of the same lines would only cost gigabytes;
--   * :intents intents over the period, more of them as time goes on; created in the last
--     hour: awaiting payment; otherwise 8% expired, 3% cancelled, the rest paid by KHQR,
--     sandbox or cash, the online share rising from 25% to 70% over the period; 1.5% of the
--     cash payments voided the same day (the intent then cancelled);
--   * per paid intent its paid attempt and the provider transaction that settled it; receipt
--     numbers gapless per office and fiscal year (Cambodian calendar year) in payment order,
--     voided numbers kept used on their cash receipt, and the counters where they stopped, so
--     the running service numbers on after them;
--   * per office and Cambodian day with cash, one drawer of the office's cashier, closed and
--     counted without variance; one cash receipt per cash payment.
-- Not written: idempotency rows, outbox events and webhook deliveries of that history, staff
-- actions, cash deposits (the cash stays in the drawer accounts).
\set ON_ERROR_STOP on
set synchronous_commit = off;
set client_min_messages = warning;
-- Sorts and hashes of millions of rows in memory rather than on disk.
set work_mem = '256MB';
select setseed(:seed);

drop schema if exists demo_gen cascade;
create schema demo_gen;

create table demo_gen.params as
select :intents::bigint as intents,
       (:years::numeric * interval '365 days') as span,
       now() as until,
       now() - (:years::numeric * interval '365 days') as since,
       (select id from api_keys where name = 'demo workflow') as workflow_key,
       (select version from fee_schedules where effective_from <= current_date
        order by effective_from desc limit 1) as schedule_version;

-- The missing offices: district geocodes, round-robin over the provinces (district 01, 02,
-- ... of each), skipping codes that exist.
insert into offices (code, name_km, name_en, province_group, province_code)
select c.code,
       'ការិយាល័យច្រកចេញចូលតែមួយ ' || case when c.province = '12' then 'ខណ្ឌ' else 'ស្រុក' end
           || ' (' || c.name_km || ') ' || translate(c.code, '0123456789', '០១២៣៤៥៦៧៨៩'),
       'OWSO ' || case when c.province = '12' then 'khan' else 'district' end || ' ' || c.code
           || ' (' || c.name_en || ')',
       case when c.province in ('12', '17', '02', '18') then 'major' else 'other' end,
       c.province
from (
    select p.code || lpad(d::text, 2, '0') as code, p.code as province, p.name_km, p.name_en,
           row_number() over (order by d, p.code) as k
    from provinces p cross join generate_series(1, 20) as d
    where not exists (select 1 from offices o where o.code = p.code || lpad(d::text, 2, '0'))
) c
where c.k <= 204 - (select count(*) from offices where code <> '0000')
order by c.code;

-- How busy each office is: a skewed draw, times 3 in Phnom Penh and 1.8 in the big towns.
create table demo_gen.offices as
select code, province_code, w, (w / sum(w) over ()) as share
from (
    select code, province_code,
           (0.15 + 3 * power(random(), 2))
           * case when province_code = '12' then 3
                  when province_code in ('17', '02', '18') then 1.8 else 1 end
           * case code when '0320' then 2 when '1201' then 2.5 else 1 end as w
    from offices where code <> '0000'
) o;
update demo_gen.offices set share = w / (select sum(w) from demo_gen.offices);

-- A cashier and a supervisor for every generated office, with the demo password (copied
-- from the demo cashier's hash; argon2id, never stored in clear).
insert into staff_users (id, username, name, role, office_codes, password_hash, must_change_password,
                         password_changed_at)
select gen_random_uuid(), r.role || '.' || o.code, initcap(r.role) || ' ' || o.code, r.role,
       array[o.code], (select password_hash from staff_users where username = 'cashier.0320'),
       false, now()
from demo_gen.offices o cross join (values ('cashier'), ('supervisor')) as r(role)
on conflict (username) do nothing;

-- Baskets: what a citizen pays for at once. One line of each fixed or per-unit service, and a
-- few cases of several services in several sectors; more common ones weigh more.
create table demo_gen.basket_items (basket int, position int, service_code text, quantity int);
insert into demo_gen.basket_items
select row_number() over (order by s.code)::int, 1, s.code, 1
from fee_schedule_services s, demo_gen.params p
where s.schedule_version = p.schedule_version and s.fee_rule->>'kind' in ('fixed', 'per_unit');
insert into demo_gen.basket_items
select 1000 + b, pos, code, qty
from (values
    (1, 1, 'public_works.driving_licence_b_exam', 1), (1, 2, 'civil_registration.civil_status_certificate', 1),
    (2, 1, 'construction.cadastral_information_certificate', 2), (2, 2, 'civil_registration.civil_status_certificate', 2),
    (3, 1, 'labour.internal_regulations_8_100', 1), (3, 2, 'commerce.foreign_currency_price_display', 1),
    (4, 1, 'tourism.room_rental_house_licence', 6), (4, 2, 'commerce.foreign_currency_price_display', 1),
    (5, 1, 'mines_energy.small_scale_mining_application', 1), (5, 2, 'construction.encumbrance_registration', 1),
        (5, 3, 'civil_registration.civil_status_certificate', 1),
    (6, 1, 'public_works.kampuchea_plate_registration', 1), (6, 2, 'civil_registration.civil_status_certificate', 1),
    (7, 1, 'construction.land_construction_consulting_provincial', 1), (7, 2, 'construction.cadastral_information_certificate', 1),
        (7, 3, 'civil_registration.civil_status_certificate', 1)
) as v(b, pos, code, qty)
where exists (select 1 from fee_schedule_services s, demo_gen.params p
              where s.schedule_version = p.schedule_version and s.code = v.code
                and s.fee_rule->>'kind' in ('fixed', 'per_unit'));
-- A basket missing one of its services (another catalog) is dropped whole.
delete from demo_gen.basket_items b
where b.basket > 1000 and (select count(*) from demo_gen.basket_items x where x.basket = b.basket) < 2;

create table demo_gen.lines as
select i.basket, i.position, s.code as service_code, s.sector_code, s.name_km, s.name_en, s.unit,
       s.legal_basis, s.legal_basis_public, s.fee_rule, svc.currency, i.quantity,
       (s.fee_rule->>'amount')::numeric * case svc.currency when 'USD' then 100 else 1 end as unit_minor
from demo_gen.basket_items i
join demo_gen.params p on true
join fee_schedule_services s on s.schedule_version = p.schedule_version and s.code = i.service_code
join services svc on svc.code = s.code;
alter table demo_gen.lines add column amount_minor bigint;
update demo_gen.lines set amount_minor = (unit_minor * quantity)::bigint;
-- Free lines are not in the books; a basket of one currency only.
delete from demo_gen.lines where amount_minor <= 0;
delete from demo_gen.lines l where exists (
    select 1 from demo_gen.lines x where x.basket = l.basket and x.currency <> l.currency);

create table demo_gen.baskets as
select basket, min(currency) as currency, sum(amount_minor)::bigint as total_minor,
       -- How often: driving licences and civil status every day, passports often, the rest less.
       greatest(1, round(sum(case
           when sector_code = 'civil_registration' then 8
           when sector_code = 'public_works' then 5
           when sector_code = 'administration' then 3
           when sector_code in ('legalization', 'commerce', 'tourism') then 2
           else 1 end) / count(*)
           -- Cases of several services are common (a licence and its certificates), so that a
           -- payment averages about 2.5 postings, as the issue's 4 M intents / 10 M postings.
           * case when count(*) > 1 then 14 else 1 end))::int as weight
from demo_gen.lines group by basket;
create table demo_gen.basket_slots as
select array_agg(b.basket order by b.basket, g) as slots
from demo_gen.baskets b cross join lateral generate_series(1, b.weight) g;

-- MoneyView's text: whole riel, or dollars with two decimals.
create function demo_gen.money_text(minor bigint, currency text) returns text
language sql immutable as $$
    select case currency when 'USD' then (minor / 100)::text || '.' || lpad((minor % 100)::text, 2, '0')
                         else minor::text end
$$;

-- The accounts every payment names, made up front (the service makes each on first use; its
-- creation time here is the start of the period).
insert into ledger_accounts (code, office_code, kind, currency, normal_balance, created_at)
select o.code || ':' || a.segment || ':' || c.currency, o.code, a.kind, c.currency, a.normal, p.since
from demo_gen.offices o
cross join demo_gen.params p
cross join (select distinct currency from demo_gen.baskets) c
cross join (values ('clearing:khqr', 'clearing', 'debit'), ('clearing:sandbox', 'clearing', 'debit'),
                   ('cash:drawer', 'cash_drawer', 'debit')) as a(segment, kind, normal)
union all
select distinct o.code || ':revenue:' || l.sector_code || ':' || l.currency, o.code, 'revenue',
       l.currency, 'credit', p.since
from demo_gen.offices o cross join demo_gen.params p cross join demo_gen.lines l
on conflict (code) do nothing;

-- One quote per office and basket, its lines as app::quotes::QuoteLine serializes them.
create table demo_gen.quotes as
select gen_random_uuid() as id, o.code as office_code, b.basket, b.currency, b.total_minor
from demo_gen.offices o cross join demo_gen.baskets b;
insert into quotes (id, office_code, currency, total_minor, lines, schedule_version, created_by,
                    created_at, expires_at)
select q.id, q.office_code, q.currency, q.total_minor,
       (select jsonb_agg(jsonb_build_object(
                    'service_code', l.service_code, 'sector', l.sector_code,
                    'description_km', l.name_km, 'description_en', l.name_en,
                    'quantity', l.quantity, 'unit', l.unit,
                    'unit_price', jsonb_build_object('amount', demo_gen.money_text(l.unit_minor::bigint, l.currency), 'currency', l.currency),
                    'amount', jsonb_build_object('amount', demo_gen.money_text(l.amount_minor, l.currency), 'currency', l.currency),
                    'revenue_account', q.office_code || ':revenue:' || l.sector_code || ':' || l.currency,
                    'rule', l.fee_rule->>'kind', 'legal_basis', l.legal_basis, 'band', null,
                    'rule_path', '[]'::jsonb, 'params', '{}'::jsonb, 'preferential_reason', null,
                    'bundle_code', null, 'schedule_version', p.schedule_version,
                    'source_rows', coalesce(l.fee_rule->'source_rows', '[]'::jsonb),
                    'legal_basis_public', nullif(btrim(l.legal_basis_public), ''))
                order by l.position)
        from demo_gen.lines l where l.basket = q.basket),
       p.schedule_version, p.workflow_key, p.since, p.since + interval '1 day'
from demo_gen.quotes q cross join demo_gen.params p;

-- The postings of a payment of each office and basket: position 0 the debit (account chosen
-- by channel when the entry is written), then one credit per line.
create table demo_gen.credit_lines as
select q.office_code, q.basket, l.position, a.id as account_id, l.amount_minor
from demo_gen.quotes q
join demo_gen.lines l on l.basket = q.basket
join ledger_accounts a on a.code = q.office_code || ':revenue:' || l.sector_code || ':' || l.currency;
create index on demo_gen.credit_lines (office_code, basket);
create table demo_gen.debit_accounts as
select o.code as office_code, ch.channel, c.currency, a.id as account_id
from demo_gen.offices o
cross join (select distinct currency from demo_gen.baskets) c
cross join (values ('khqr', 'clearing:khqr'), ('sandbox', 'clearing:sandbox'), ('cash', 'cash:drawer')) as ch(channel, segment)
join ledger_accounts a on a.code = o.code || ':' || ch.segment || ':' || c.currency;
create index on demo_gen.debit_accounts (office_code, channel, currency);

-- The intents, each office its share. x is the intent's place in the period (0 = start,
-- 1 = now), drawn with a density rising from 1 to 2 so that later months are busier.
create unlogged table demo_gen.raw as
select gen_random_uuid() as id, o.code as office_code,
       -1 + sqrt(1 + 3 * random()) as x,
       random() as r_status, random() as r_channel, random() as r_online, random() as r_void,
       random() as r_delay,
       bs.slots[1 + floor(random() * cardinality(bs.slots))::int] as basket
from demo_gen.offices o
cross join demo_gen.params p
cross join demo_gen.basket_slots bs
cross join lateral generate_series(1, greatest(1, round(p.intents * o.share))::bigint) as g(i);
alter table demo_gen.raw add column created_at timestamptz;
update demo_gen.raw set created_at = (select until from demo_gen.params) - (1 - x) * (select span from demo_gen.params);

-- Status and channel: created in the last hour, awaiting payment; else 8% expired, 3%
-- cancelled, the rest paid, online (85% KHQR, 15% sandbox) with a share rising from 25% to 70%.
create unlogged table demo_gen.settled as
select r.*, q.id as quote_id, q.currency, q.total_minor, s.status, c.channel,
       c.channel = 'cash' and r.r_void < 0.015 as voided,
       case when c.channel = 'cash' then gen_random_uuid() end as receipt_id,
       case when s.status = 'paid'
            then least(date_trunc('second', r.created_at + case when c.channel = 'cash'
                           then interval '1 minute' + r.r_delay * interval '20 minutes'
                           else interval '3 minutes' + r.r_delay * interval '2 hours' end),
                       -- never after now (paid within the period's last minutes)
                       date_trunc('second', p.until) - interval '1 second') end as paid_at
from demo_gen.raw r
join demo_gen.params p on true
join demo_gen.quotes q on q.office_code = r.office_code and q.basket = r.basket
cross join lateral (select case
        when r.created_at > p.until - interval '1 hour' then 'awaiting_payment'
        when r.r_status < 0.08 then 'expired'
        when r.r_status < 0.11 then 'cancelled'
        else 'paid' end as status) s
cross join lateral (select case
        when s.status <> 'paid' then null
        when r.r_channel < 0.25 + 0.45 * r.x then case when r.r_online < 0.85 then 'khqr' else 'sandbox' end
        else 'cash' end as channel) c;
drop table demo_gen.raw;

-- Case references, the provider's names of each payment (Bakong's transaction hash for KHQR,
-- bank-sim's id for sandbox, the cash receipt's id for cash, as app::cashier::take), and the
-- receipt numbers: gapless per office and Cambodian calendar year, in payment order, after any
-- the service issued already (the demo seed issues none).
create unlogged table demo_gen.intents as
select s.*,
       case when s.voided then least(s.paid_at + interval '5 minutes' + s.r_delay * interval '40 minutes',
                                     (select until from demo_gen.params)) end as voided_at,
       case when s.status = 'paid' then gen_random_uuid() end as attempt_id,
       'G' || s.office_code || lpad((row_number() over (partition by s.office_code order by s.created_at, s.id))::text, 8, '0') as case_reference,
       case s.channel when 'khqr' then 'bakong' when 'sandbox' then 'sandbox' when 'cash' then 'cash' end as provider,
       case s.channel
           when 'khqr' then encode(sha256(convert_to('bakong-' || s.id::text, 'UTF8')), 'hex')
           when 'sandbox' then 'sim-' || s.id::text
           when 'cash' then s.receipt_id::text end as transaction_id,
       case when s.status = 'paid' then
           s.office_code || '-' || y.year || '-' || lpad((
               coalesce((select c.last_number from receipt_counters c
                         where c.office_code = s.office_code and c.fiscal_year = y.year), 0)
               + row_number() over (partition by s.office_code, y.year, s.status = 'paid'
                                    order by s.paid_at, s.id))::text, 6, '0') end as receipt_number
from demo_gen.settled s
cross join lateral (select extract(year from s.paid_at at time zone 'Asia/Phnom_Penh')::int as year) y;
drop table demo_gen.settled;

insert into receipt_counters (office_code, fiscal_year, last_number)
select office_code, split_part(receipt_number, '-', 2)::int, max(split_part(receipt_number, '-', 3)::bigint)
from demo_gen.intents where receipt_number is not null
group by 1, 2
on conflict (office_code, fiscal_year) do update set last_number = excluded.last_number;

-- The intents as the service keeps them (a voided cash payment: cancelled, its number on the
-- cash receipt only).
insert into payment_intents (
    id, office_code, quote_id, case_reference, payer, status, currency, total_minor,
    amount_paid_minor, receipt_number, paid_channel, created_by, created_at, updated_at,
    expires_at, paid_at, bank_paid_at, cancelled_at, pay_token_hash, exempt_from_open_case_limit)
select i.id, i.office_code, i.quote_id, i.case_reference,
       jsonb_build_object('name', 'Citizen ' || right(i.case_reference, 6)),
       case when i.voided then 'cancelled' else i.status end,
       i.currency, i.total_minor,
       case when i.status = 'paid' and not i.voided then i.total_minor else 0 end,
       case when not i.voided then i.receipt_number end,
       case when not i.voided then i.channel end,
       p.workflow_key, i.created_at,
       coalesce(i.voided_at, i.paid_at,
                case i.status when 'expired' then i.created_at + interval '1 day'
                              when 'cancelled' then i.created_at + interval '2 hours' end,
                i.created_at),
       i.created_at + interval '1 day',
       case when not i.voided then i.paid_at end,
       case when not i.voided and i.channel in ('khqr', 'sandbox') then i.paid_at - interval '2 seconds' end,
       case when i.voided then i.voided_at when i.status = 'cancelled' then i.created_at + interval '2 hours' end,
       sha256(convert_to('demo-pay-token-' || i.id::text, 'UTF8')),
       false
from demo_gen.intents i cross join demo_gen.params p
order by i.created_at;

-- The paid attempt of each payment (cancelled by the void for a voided cash payment).
-- A KHQR attempt keeps its QR text and md5 (the Bakong poller's key); the text here is a stand-in
-- of the right shape, not a scannable code (the attempt is paid: nobody scans it again).
insert into payment_attempts (id, payment_intent_id, office_code, channel, status, currency, amount_minor,
    provider_reference, failure_reason, provider_transaction_id, created_at, updated_at, expires_at,
    paid_at, bank_paid_at, khqr, khqr_md5, bill_number, poll_state)
select i.attempt_id, i.id, i.office_code, i.channel, case when i.voided then 'cancelled' else 'paid' end,
       i.currency, i.total_minor,
       case i.channel when 'cash' then 'cash-' || i.receipt_id::text
                      else i.channel || '-' || replace(i.attempt_id::text, '-', '') end,
       case when i.voided then 'voided' end,
       i.transaction_id,
       case i.channel when 'cash' then i.paid_at else i.created_at + interval '1 minute' end,
       coalesce(i.voided_at, i.paid_at),
       case i.channel when 'cash' then i.paid_at + interval '1 hour' else i.created_at + interval '1 day' end,
       i.paid_at,
       case when i.channel in ('khqr', 'sandbox') then i.paid_at - interval '2 seconds' end,
       k.qr, md5(k.qr), case when i.channel = 'khqr' then i.case_reference end,
       case when i.channel = 'khqr' then 'done' end
from demo_gen.intents i
cross join lateral (select case when i.channel = 'khqr'
    then '00020101021229180014owso_' || i.office_code || '@demo5204000053031165802KH5925OWSO '
         || i.office_code || '6010Phnom Penh6219' || '0115' || left(i.case_reference, 15)
         || '99170013' || (extract(epoch from i.created_at) * 1000)::bigint::text || '6304'
         || upper(left(md5(i.id::text), 4)) end as qr) k
where i.status = 'paid'
order by i.paid_at;

-- Drawers: one per office and Cambodian day with cash, its office's cashier, closed and
-- counted without variance after the day's last receipt.
create table demo_gen.drawers as
select gen_random_uuid() as id, * from (
select i.office_code, (i.paid_at at time zone 'Asia/Phnom_Penh')::date as day,
       min(i.paid_at) - interval '30 minutes' as opened_at,
       greatest(max(coalesce(i.voided_at, i.paid_at)), max(i.paid_at)) + interval '30 minutes' as closed_at,
       coalesce(sum(i.total_minor) filter (where i.currency = 'KHR' and not i.voided), 0) as khr,
       coalesce(sum(i.total_minor) filter (where i.currency = 'USD' and not i.voided), 0) as usd
from demo_gen.intents i where i.channel = 'cash'
group by 1, 2) d;
update demo_gen.drawers set closed_at = least(closed_at, (select until from demo_gen.params));
create index on demo_gen.drawers (office_code, day);

insert into cashier_sessions (id, office_code, cashier_user_id, cashier_name, status, float_khr_minor,
    float_usd_minor, opened_at, closed_at, expected_khr_minor, expected_usd_minor, counted_khr_minor,
    counted_usd_minor, variance_khr_minor, variance_usd_minor)
select d.id, d.office_code, u.id, u.name, 'closed', 200000, 0, d.opened_at, d.closed_at,
       200000 + d.khr, d.usd, 200000 + d.khr, d.usd, 0, 0
from demo_gen.drawers d
join staff_users u on u.username = 'cashier.' || d.office_code
order by d.opened_at;

-- The entries, in time order: each payment, and each void's reversal. Ids follow the
-- current maximum, in that order, so that ids, times and transaction ids rise together.
create unlogged table demo_gen.entries as
select row_number() over (order by at, id, reversal) as n, *
from (
    select i.id, false as reversal, i.paid_at as at from demo_gen.intents i where i.status = 'paid'
    union all
    select i.id, true, i.voided_at from demo_gen.intents i where i.voided
) e;
alter table demo_gen.entries add column entry_id bigint;
update demo_gen.entries set entry_id = n + (select coalesce(max(id), 0) from ledger_entries);
create unique index on demo_gen.entries (n);
create index on demo_gen.entries (id, reversal);

-- Under replica (no foreign-key triggers): the entries they name are written by ledger.sql
-- right after, in the same run of scripts/demo-data.sh, which checks them at the end.
set session_replication_role = replica;
insert into cash_receipts (id, session_id, office_code, payment_intent_id, payment_attempt_id, ledger_entry_id,
    currency, amount_minor, tendered_minor, change_minor, cashier_user_id, cashier_name, created_at,
    receipt_number, voided_at, void_reason, void_approver_user_id, void_approver_name, reversal_entry_id, void_then)
select i.receipt_id, d.id, i.office_code, i.id, i.attempt_id,
       e.entry_id, i.currency, i.total_minor,
       t.tendered, t.tendered - i.total_minor, u.id, u.name, i.paid_at,
       case when i.voided then i.receipt_number end,
       i.voided_at, case when i.voided then 'wrong service entered' end,
       case when i.voided then sup.id end, case when i.voided then sup.name end,
       r.entry_id,
       case when i.voided then 'cancel' end
from demo_gen.intents i
join demo_gen.entries e on e.id = i.id and not e.reversal
left join demo_gen.entries r on r.id = i.id and r.reversal
join demo_gen.drawers d on d.office_code = i.office_code and d.day = (i.paid_at at time zone 'Asia/Phnom_Penh')::date
join staff_users u on u.username = 'cashier.' || i.office_code
left join staff_users sup on sup.username = 'supervisor.' || i.office_code
cross join lateral (select case i.currency when 'KHR' then ceil(i.total_minor / 10000.0)::bigint * 10000
                                           else ceil(i.total_minor / 1000.0)::bigint * 1000 end as tendered) t
where i.channel = 'cash'
order by i.paid_at;
reset session_replication_role;

insert into provider_transactions (provider, transaction_id, payment_attempt_id, outcome, ledger_entry_id, created_at)
select i.provider, i.transaction_id, i.attempt_id, 'paid', e.entry_id, i.paid_at
from demo_gen.intents i join demo_gen.entries e on e.id = i.id and not e.reversal
order by i.paid_at;

analyze demo_gen.intents;
analyze demo_gen.entries;
