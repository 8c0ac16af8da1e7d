-- Versioned fee schedules (issue 4).
--
-- A schedule version is a whole catalog: its services (each with a fee rule, the tagged JSON
-- document the fee engine reads) and its bundles. A version is in force from its
-- effective_from (a Cambodian calendar date, ICT = UTC+7) until the next version's; a version
-- in force is never changed, a new one is published instead. Quotes keep the version they were
-- priced with (quotes.schedule_version) and their priced lines, so a later schedule never
-- changes an amount already quoted or asked for.

create table fee_schedules (
    version text primary key check (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    -- One version per date: two versions starting the same day would make "the version in
    -- force" ambiguous.
    effective_from date not null unique,
    legal_basis text not null check (length(btrim(legal_basis)) > 0),
    notes text not null default '',
    -- API key id, or 'cli' for the command line and the seed.
    created_by text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table fee_schedule_services (
    schedule_version text not null references fee_schedules (version),
    code text not null check (code ~ '^[a-z0-9_]+\.[a-z0-9_]+$' and length(code) <= 64),
    sector_code text not null references sectors (code),
    name_km text not null check (length(name_km) between 1 and 200),
    name_en text not null check (length(name_en) between 1 and 200),
    currency char(3) not null check (currency in ('KHR', 'USD')),
    unit text not null check (length(unit) between 1 and 32),
    max_quantity integer not null check (max_quantity between 1 and 10000),
    level text not null check (level in ('district', 'provincial', 'national', 'unstated')),
    time_limit_days integer check (time_limit_days is null or time_limit_days > 0),
    time_limit_text text not null default '',
    validity text not null default '',
    legal_basis text not null check (length(btrim(legal_basis)) > 0),
    legal_basis_number text not null default '',
    legal_basis_date date,
    source text not null check (length(btrim(source)) > 0),
    -- Rows of the sourced fee table (payments/data/sources/owso-fees-sourced.csv) behind it.
    source_rows integer[] not null default '{}',
    notes text not null default '',
    fee_rule jsonb not null check (jsonb_typeof(fee_rule) = 'object'),
    -- KHQR and the banks take whole riel; USD is for national services only (passports).
    check (currency = 'KHR' or level = 'national'),
    primary key (schedule_version, code)
);
create index fee_schedule_services_sector_idx on fee_schedule_services (schedule_version, sector_code, code);

create table fee_schedule_bundles (
    schedule_version text not null references fee_schedules (version),
    code text not null check (code ~ '^bundle\.[a-z0-9_]+$' and length(code) <= 64),
    name_km text not null check (length(name_km) between 1 and 200),
    name_en text not null check (length(name_en) between 1 and 200),
    notes text not null default '',
    items jsonb not null check (jsonb_typeof(items) = 'array'),
    primary key (schedule_version, code)
);

-- Who changed the catalog, when, and what it was before and after.
create table catalog_audit (
    id bigserial primary key,
    occurred_at timestamptz not null default now(),
    actor text not null,
    action text not null,
    schedule_version text not null,
    subject text not null,
    before jsonb,
    after jsonb
);
create index catalog_audit_version_idx on catalog_audit (schedule_version, id);

-- The single-version `services` table of 0002 is replaced by the versioned tables; the name
-- stays as a view of the services in force, so readers of the old name keep working. Its rows
-- were the walking skeleton's catalog, which `payments seed` loads again as a schedule.
drop table services;
create view services as
select s.code, s.sector_code, s.name_km, s.name_en, s.currency, s.unit, s.fee_rule,
       s.time_limit_days, s.legal_basis, s.source, s.schedule_version
from fee_schedule_services s
where s.schedule_version = (
    select f.version from fee_schedules f
    where f.effective_from <= (now() at time zone 'Asia/Phnom_Penh')::date
    order by f.effective_from desc
    limit 1
);
