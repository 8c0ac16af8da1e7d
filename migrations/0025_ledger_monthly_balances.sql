-- Per account and UTC month totals of the daily balances (issue 16): a trial balance as of an
-- instant two years into the books read one daily row per account and day before it (about
-- 800,000 rows at 204 offices, 360 ms); it now reads one row per account and finished month,
-- the days of the cut's month, and the postings since (ledger crate docs, "Balances"). A month
-- is aggregated once every one of its days is rolled up; like the daily rows, these rows are
-- never updated, and `ledger verify` recomputes each from its daily rows.
create table ledger_monthly_balances (
    account_id bigint not null references ledger_accounts (id),
    -- First day of the UTC month.
    month date not null check (month = date_trunc('month', month)::date),
    office_code text not null,
    debit_minor bigint not null check (debit_minor >= 0),
    credit_minor bigint not null check (credit_minor >= 0),
    balance_minor bigint not null,
    posting_count bigint not null check (posting_count > 0),
    primary key (account_id, month),
    check (balance_minor = debit_minor - credit_minor)
);
create index ledger_monthly_balances_office_idx on ledger_monthly_balances (office_code, month);
create index ledger_monthly_balances_month_idx on ledger_monthly_balances (month);

create trigger ledger_monthly_balances_append_only before update or delete on ledger_monthly_balances
    for each row execute function ledger_refuse_change();
create trigger ledger_monthly_balances_no_truncate before truncate on ledger_monthly_balances
    for each statement execute function ledger_refuse_change();

-- Months before next_month are aggregated (null: none yet). Only the roll-up, under the state
-- row's lock, moves it.
alter table ledger_rollup_state add column next_month date
    check (next_month = date_trunc('month', next_month)::date);

-- The months a database already rolled up are aggregated here, so every reader can rely on
-- next_month from the start.
insert into ledger_monthly_balances
    (account_id, month, office_code, debit_minor, credit_minor, balance_minor, posting_count)
select d.account_id, date_trunc('month', d.day)::date, min(d.office_code),
       sum(d.debit_minor), sum(d.credit_minor), sum(d.balance_minor), sum(d.posting_count)
from ledger_daily_balances d, ledger_rollup_state s
where s.next_day is not null and d.day < date_trunc('month', s.next_day)::date
group by 1, 2;
update ledger_rollup_state set next_month = date_trunc('month', next_day)::date
where next_day is not null;
