-- `make demo-data`, step 2 of 2 (scripts/demo-data.sh): the ledger entries and postings of the
-- payments and voids that bench/books/fill.sql staged in schema demo_gen, then the staging
-- dropped.
--
-- psql -v chunk=2000 -f ledger.sql   (as the database owner: it switches triggers off)
--
-- THIS IS A GENERATOR OF HISTORY, NEVER HOW THE SERVICE WRITES. The ledger's triggers
-- (migrations 0001, 0005, 0008) stamp every entry with the database clock, so no entry can be
-- back-dated through them, and that is the point of them. Two years of history can only be
-- written with them off: `session_replication_role = replica` (owner or superuser only) skips
-- every ordinary trigger, the append-only guards, the clock, the balance check and the foreign
-- keys with them, for this session only. Everything those triggers would have enforced is
-- therefore written by construction here and checked at the end (scripts/demo-data.sh then
-- runs `payments ledger verify`, which recomputes every posting into the chain):
--   * an entry exactly as app::settlement::payment_entry builds it: kind payment_confirmed (or
--     cash_receipt), "case … paid by …", idempotency key provider:transaction id, metadata
--     payment_intent_id / payment_attempt_id / case_reference / provider /
--     provider_transaction_id / bank_paid_at; D clearing:{channel} (cash: cash:drawer) the
--     total, C revenue:{sector} per quote line, in that order; a void as
--     ledger::store::reversal_of makes it: kind reversal, every posting mirrored;
--   * postings carry their entry's office, time and currency; entries balance per currency;
--   * ids, times and transaction ids rise together: entries are written in time order, in
--     chunks of :chunk, each chunk its own transaction, so txid (its column default,
--     pg_current_xact_id(), which is not a trigger) is a real, finished transaction id that
--     grows with time, as the sealer and the roll-up expect (ledger crate docs, "Sealing").
\set ON_ERROR_STOP on
set synchronous_commit = off;
set client_min_messages = warning;
-- Sorts and hashes of millions of rows in memory rather than on disk.
set work_mem = '256MB';

create index if not exists demo_gen_intents_id on demo_gen.intents (id);
analyze demo_gen.intents;

create procedure demo_gen.write_ledger(chunk bigint)
language plpgsql as $$
declare
    total bigint := (select coalesce(max(n), 0) from demo_gen.entries);
    low bigint := 0;
begin
    while low < total loop
        insert into ledger_entries (id, office_code, kind, description, idempotency_key,
                                    reverses_entry_id, metadata, created_at)
        select e.entry_id, i.office_code,
               case when e.reversal then 'reversal'
                    when i.channel = 'cash' then 'cash_receipt' else 'payment_confirmed' end,
               case when e.reversal then 'receipt ' || i.receipt_number || ' voided: wrong service entered'
                    else 'case ' || i.case_reference || ' paid by ' || i.channel end,
               case when e.reversal then 'void:' || i.receipt_id::text
                    else i.provider || ':' || i.transaction_id end,
               case when e.reversal then (select o.entry_id from demo_gen.entries o
                                          where o.id = e.id and not o.reversal) end,
               case when e.reversal then jsonb_build_object('reversed_kind', 'cash_receipt')
                    else jsonb_build_object(
                        'payment_intent_id', i.id, 'payment_attempt_id', i.attempt_id,
                        'case_reference', i.case_reference, 'provider', i.provider,
                        'provider_transaction_id', i.transaction_id,
                        'bank_paid_at', case when i.channel <> 'cash'
                            then to_char((i.paid_at - interval '2 seconds') at time zone 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"') end) end,
               e.at
        from demo_gen.entries e
        join demo_gen.intents i on i.id = e.id
        where e.n > low and e.n <= low + chunk
        order by e.n;

        insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor, created_at)
        select entry_id, account_id, currency, office_code, amount_minor, at
        from (
            select e.entry_id, d.account_id, i.currency, i.office_code,
                   i.total_minor * case when e.reversal then -1 else 1 end as amount_minor,
                   e.at, 0 as position
            from demo_gen.entries e
            join demo_gen.intents i on i.id = e.id
            join demo_gen.debit_accounts d
              on d.office_code = i.office_code and d.channel = i.channel and d.currency = i.currency
            where e.n > low and e.n <= low + chunk
            union all
            select e.entry_id, c.account_id, i.currency, i.office_code,
                   c.amount_minor * case when e.reversal then 1 else -1 end,
                   e.at, c.position
            from demo_gen.entries e
            join demo_gen.intents i on i.id = e.id
            join demo_gen.credit_lines c on c.office_code = i.office_code and c.basket = i.basket
            where e.n > low and e.n <= low + chunk
        ) p
        order by entry_id, position;
        commit;
        low := low + chunk;
    end loop;
end;
$$;

-- The session's setting, kept across the procedure's commits; reset right after.
set session_replication_role = replica;
call demo_gen.write_ledger(:chunk);
reset session_replication_role;

select setval('ledger_entries_id_seq', greatest((select max(id) from ledger_entries), 1));

drop schema demo_gen cascade;
analyze;
