-- When a ledger item stops being a candidate for a statement line. A line matched it; or a
-- person resolved its exception another way (written off: the money was given up, and a line
-- that shows up for it later is a new exception, worked by hand, so it is never counted
-- twice); or its entry was reversed, or is itself a reversal (a reversed write-off debits
-- clearing again, which is no money on its way to the bank). Reopening an exception (a
-- `reverse` resolution) makes its item a candidate again. One definition for the automatic
-- matcher's candidates and for matching by hand.
create function reconciliation_item_settled(posting_id bigint, entry_id bigint)
returns boolean language sql stable as $$
    select exists (select 1 from reconciliation_match_items m where m.posting_id = $1)
        or exists (select 1 from reconciliation_exceptions x
                   where x.item_posting_id = $1 and x.status = 'resolved')
        or exists (select 1 from ledger_entries r where r.reverses_entry_id = $2)
        or exists (select 1 from ledger_entries e where e.id = $2 and e.reverses_entry_id is not null)
$$;
