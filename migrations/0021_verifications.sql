-- Chain verifications run from the auditor's page (issue 16): one row per run, written by the
-- instance that runs it and read by every instance, so the page shows its progress wherever
-- the auditor's next request lands, and the dashboard shows the last result and its time.
create table ledger_verifications (
    id uuid primary key,
    -- Who asked: a person's name or an API key's, as shown on the page.
    started_by text not null check (length(started_by) between 1 and 200),
    started_at timestamptz not null default now(),
    -- running → finished (ok true or false) | failed (the run itself broke: a lost connection,
    -- an instance that died; the lease below lets another instance say so).
    status text not null check (status in ('running', 'finished', 'failed')),
    -- Entries checked so far, out of the chain's length when the run began.
    entries_checked bigint not null default 0 check (entries_checked >= 0),
    entries_total bigint not null default 0 check (entries_total >= 0),
    -- The running instance renews it; a run whose lease lapsed is failed by whoever looks.
    lease_until timestamptz not null,
    finished_at timestamptz,
    ok boolean,
    -- The verify report (JSON, as `GET /v1/ledger/verify` answers) once finished; the error
    -- once failed.
    report jsonb,
    error text,
    check ((status = 'running') = (finished_at is null)),
    check ((status = 'finished') = (ok is not null))
);
create index ledger_verifications_started_idx on ledger_verifications (started_at desc);
