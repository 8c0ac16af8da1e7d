-- People who log in to the console (issue 14): cashiers, supervisors, auditors, admins. API
-- keys stay for systems. A person has the same roles and office scope as a key.
create table staff_users (
    id uuid primary key,
    -- What the person types at login: lower-case ASCII, so two spellings of one name never
    -- make two accounts.
    username text not null unique check (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    -- Shown on receipts and in the audit trail, in the person's own script.
    name text not null check (length(name) between 1 and 200),
    role text not null check (role in ('cashier', 'supervisor', 'auditor', 'admin')),
    office_codes text[] not null default '{}',
    -- An argon2id PHC string; the password itself is never stored or logged.
    password_hash text not null check (password_hash like '$argon2id$%'),
    -- True for the one-time password `payments users create` prints: the console lets the
    -- person do nothing but choose their own.
    must_change_password boolean not null default true,
    failed_logins integer not null default 0 check (failed_logins >= 0),
    locked_until timestamptz,
    disabled_at timestamptz,
    created_at timestamptz not null default now(),
    password_changed_at timestamptz
);

-- Server-side sessions: the cookie carries a random token, the row its SHA-256, so a copy of
-- this table cannot log anyone in.
create table staff_sessions (
    id uuid primary key,
    token_hash bytea not null unique check (length(token_hash) = 32),
    user_id uuid not null references staff_users (id),
    -- The session's CSRF token, echoed by every form and by scripts in a header.
    csrf_token text not null,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    -- The absolute timeout; the idle timeout is measured from last_seen_at.
    expires_at timestamptz not null,
    ended_at timestamptz,
    ended_reason text check (ended_reason in ('logout', 'idle', 'expired', 'password_changed', 'disabled')),
    client_ip text,
    user_agent text
);
create index staff_sessions_user_idx on staff_sessions (user_id, created_at desc);

-- Who did what, when, from which session (or with which API key): every staff action,
-- failed logins and lockouts included. Append-only, like the ledger.
create table staff_actions (
    id bigserial primary key,
    at timestamptz not null default now(),
    user_id uuid references staff_users (id),
    session_id uuid references staff_sessions (id),
    api_key_id uuid references api_keys (id),
    action text not null check (length(action) between 1 and 64),
    office_code text,
    -- What the action was about: a drawer id, a receipt number, a username.
    subject text,
    detail jsonb not null default '{}'
);
create index staff_actions_user_idx on staff_actions (user_id, at desc);
create index staff_actions_office_idx on staff_actions (office_code, at desc);

create function staff_actions_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'staff_actions is append-only';
end $$;
create trigger staff_actions_append_only before update or delete on staff_actions
    for each statement execute function staff_actions_append_only();
