-- The console's office dashboard (issue 14): its two lists must stay fast at millions of
-- intents, so each reads one office's slice of a partial index instead of the whole table.

-- Open intents of an office, newest first: the awaiting rows only (a small share of the
-- table), so the index stays small however many intents were paid.
create index payment_intents_office_open_idx on payment_intents (office_code, created_at desc)
    where status = 'awaiting_payment';

-- Paid today by channel: "today" is by payment time (paid_at), so a range on paid_at per office.
create index payment_intents_office_paid_idx on payment_intents (office_code, paid_at)
    where status = 'paid';
