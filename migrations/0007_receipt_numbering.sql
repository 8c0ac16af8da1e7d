-- Receipt numbers without serializing an office's payments (issue 5, "hot office").
--
-- A gapless number needs one counter row per office and fiscal year, and a counter row
-- locked inside the payment's transaction is held through that transaction's commit, i.e.
-- through a WAL flush (~3 ms on a plain disk): one office could then confirm only one
-- payment per flush, whatever else the server does. Instead, the payment's transaction
-- commits the paid state, the ledger entry and a row here (the staged `payment.paid` event:
-- everything but the number); right after that commit, a numbering transaction takes every
-- staged row of the office, moves the counter once by their count, writes the numbers onto
-- the intents and turns the rows into `payment.paid` outbox events. Concurrent payments of one
-- office share that numbering transaction's flush. Numbers stay gapless (counter and numbers
-- commit together) and are handed out in staging order within a numbering transaction.
-- A worker numbers rows left behind (a crash between the two commits) within seconds.
create table receipt_queue (
    id bigserial primary key,
    payment_intent_id uuid not null unique references payment_intents (id),
    office_code text not null references offices (code),
    fiscal_year integer not null,
    case_reference text not null,
    total_minor bigint not null,
    currency char(3) not null,
    channel text not null,
    paid_at timestamptz not null,
    queued_at timestamptz not null default now()
);
create index receipt_queue_office_idx on receipt_queue (office_code, id);
