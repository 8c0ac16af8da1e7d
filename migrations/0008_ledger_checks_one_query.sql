-- The ledger's checks, same rules, fewer queries (issue 5's throughput benchmark: they run for
-- every posting of every entry, inside the commit that everyone waits for).
--
-- ledger_check_entry (0001) answered "at least two postings" and "balanced per currency" with
-- two queries over the entry's postings; one grouped query answers both. It runs once per
-- entry and once per posting (the posting-level check is not redundant: it catches a posting
-- added to an entry of this transaction after `set constraints all immediate` already checked
-- the entry).
create or replace function ledger_check_entry(checked_entry_id bigint) returns void
language plpgsql as $$
declare
    posting_count bigint;
    unbalanced_currency text;
begin
    select coalesce(sum(lines), 0), min(currency) filter (where total <> 0)
    into posting_count, unbalanced_currency
    from (select currency, count(*) as lines, sum(amount_minor) as total
          from ledger_postings
          where entry_id = checked_entry_id
          group by currency) per_currency;
    if posting_count < 2 then
        raise exception 'ledger entry % has % posting(s); an entry needs at least 2', checked_entry_id, posting_count
            using errcode = 'check_violation', constraint = 'ledger_entries_balanced',
                  hint = 'insert an entry and all its postings in one transaction';
    end if;
    if unbalanced_currency is not null then
        raise exception 'ledger entry % does not balance in %', checked_entry_id, unbalanced_currency
            using errcode = 'check_violation', constraint = 'ledger_entries_balanced';
    end if;
end;
$$;

-- 0001's posting trigger read the entry and then the account in two queries; one join reads
-- both. A missing entry or account still leaves the foreign keys to report it.
create or replace function ledger_postings_before_insert() returns trigger
language plpgsql as $$
declare
    entry_office text;
    entry_created_at timestamptz;
    account_office text;
begin
    select e.office_code, e.created_at, a.office_code
    into entry_office, entry_created_at, account_office
    from ledger_entries e
    left join ledger_accounts a on a.id = new.account_id
    where e.id = new.entry_id;
    if not found then
        -- Left to the foreign key to report.
        return new;
    end if;
    if entry_created_at < transaction_timestamp() then
        raise exception 'ledger entry % was written by an earlier transaction; post a new entry instead', new.entry_id
            using errcode = 'check_violation', constraint = 'ledger_postings_same_transaction';
    end if;
    if new.office_code <> entry_office or account_office <> entry_office then
        raise exception 'posting of ledger entry % (office %) names account % of office %',
            new.entry_id, entry_office, new.account_id, coalesce(account_office, new.office_code)
            using errcode = 'check_violation', constraint = 'ledger_postings_same_office';
    end if;
    new.created_at := entry_created_at;
    return new;
end;
$$;
