-- KHQR through Bakong: the QR of an attempt, and the state of polling Bakong for it.
--
-- Bakong has no push; a poller asks by md5. An attempt is polled until its QR has expired
-- plus a grace period, whatever the intent did meanwhile: a citizen can still pay a QR after
-- the intent was cancelled, and that money must be found (and parked in suspense), not lost.

alter table payment_attempts
    add column khqr text,
    add column khqr_md5 text check (khqr_md5 is null or khqr_md5 ~ '^[0-9a-f]{32}$'),
    add column bill_number text,
    -- 'active' while Bakong should be asked; 'done' once paid or finally checked after expiry.
    add column poll_state text check (poll_state is null or poll_state in ('active', 'done')),
    add column next_check_at timestamptz,
    add column check_count integer not null default 0,
    add column poll_leased_until timestamptz,
    add column last_checked_at timestamptz,
    add constraint payment_attempts_khqr_complete
        check (channel <> 'khqr' or (khqr is not null and khqr_md5 is not null and poll_state is not null));

create unique index payment_attempts_khqr_md5_key on payment_attempts (khqr_md5) where khqr_md5 is not null;
create index payment_attempts_khqr_due_idx on payment_attempts (next_check_at) where poll_state = 'active';

-- A KHQR payment that reaches another account than the office's is money we did not ask for.
alter table reconciliation_exceptions drop constraint reconciliation_exceptions_kind_check;
alter table reconciliation_exceptions add constraint reconciliation_exceptions_kind_check
    check (kind in ('amount_mismatch', 'currency_mismatch', 'account_mismatch', 'already_paid',
        'after_cancel', 'after_expiry', 'unknown_reference', 'unsupported_currency'));
