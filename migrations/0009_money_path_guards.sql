-- Guards on the money path: callbacks bound to their channel, the bank's clock kept apart
-- from ours, and one open intent per case.

-- A correctly signed report from one channel that names an attempt of another channel is
-- money we did not ask for through that channel: parked in suspense, never a payment.
alter table reconciliation_exceptions drop constraint reconciliation_exceptions_kind_check;
alter table reconciliation_exceptions add constraint reconciliation_exceptions_kind_check
    check (kind in ('amount_mismatch', 'currency_mismatch', 'account_mismatch', 'already_paid',
        'after_cancel', 'after_expiry', 'unknown_reference', 'unsupported_currency',
        'channel_mismatch'));

-- Attempts are found by (channel, provider reference); provider_reference stays unique on its
-- own (we make it), so its unique index serves that lookup and no new index is needed.

-- paid_at is our clock at settlement (receipt numbers and fiscal years follow it); the time
-- the bank reported is kept as reported, for reconciliation with the bank's statements.
alter table payment_attempts add column bank_paid_at timestamptz;
alter table payment_intents add column bank_paid_at timestamptz;

-- At most one intent awaiting payment per (office, case reference). A live database may
-- already hold several for one case (nothing stopped it before). They are left as they are,
-- payable, rather than cancelled here: a citizen may be paying one of them right now, and a
-- cancel would turn that payment into suspense money; a migration also cannot send the
-- `payment.cancelled` events the workflow system expects. All but the newest of each case
-- are marked exempt from the index, so the index can be built, and they leave the index's
-- concern as soon as they are paid, cancelled or expired. New intents are never exempt.
alter table payment_intents add column exempt_from_open_case_limit boolean not null default false;

update payment_intents i set exempt_from_open_case_limit = true
from (select id, row_number() over (partition by office_code, case_reference
                                    order by created_at desc, id desc) as newest_first
      from payment_intents
      where status = 'awaiting_payment') ranked
where i.id = ranked.id and ranked.newest_first > 1;

create unique index payment_intents_one_open_per_case on payment_intents (office_code, case_reference)
    where status = 'awaiting_payment' and not exempt_from_open_case_limit;
