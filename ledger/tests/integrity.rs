//! The ledger's integrity against a real PostgreSQL: period close, the hash chain and its sealer, and
//! balances from daily aggregates. Tampering goes around the triggers as a superuser would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use ledger::store::{self, CloseOutcome};
use ledger::{BalancedEntry, Currency, EntryBuilder, LedgerError, Money};
use sqlx::{PgConnection, PgPool};

use support::{clearing, revenue};

fn payment(office: &str, sector: &str, minor: i64) -> BalancedEntry {
    let amount = Money::from_minor(minor, Currency::Khr);
    EntryBuilder::new(office, "payment_confirmed", "a case paid by khqr")
        .debit(clearing(office), amount)
        .credit(revenue(office, sector), amount)
        .build()
        .unwrap()
}

async fn post(pool: &PgPool, entry: &BalancedEntry) -> i64 {
    let mut tx = pool.begin().await.unwrap();
    let outcome = store::post(&mut tx, entry).await.unwrap();
    tx.commit().await.unwrap();
    outcome.entry_id().0
}

/// Writes a balanced two-line entry dated `at`, with the triggers off (superuser), the way
/// history from before this system (or a bench) is loaded.
async fn historical_entry(
    conn: &mut PgConnection,
    office: &str,
    sector: &str,
    minor: i64,
    at: DateTime<Utc>,
) -> i64 {
    let debit = store::ensure_account(conn, &clearing(office))
        .await
        .unwrap();
    let credit = store::ensure_account(conn, &revenue(office, sector))
        .await
        .unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar(
        "insert into ledger_entries (office_code, kind, description, created_at)
         values ($1, 'payment_confirmed', 'history', $2) returning id",
    )
    .bind(office)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor, created_at)
         values ($1, $2, 'KHR', $4, $5, $6), ($1, $3, 'KHR', $4, -$5, $6)",
    )
    .bind(id)
    .bind(debit)
    .bind(credit)
    .bind(office)
    .bind(minor)
    .bind(at)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    id
}

async fn seal_all(pool: &PgPool) -> usize {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await.unwrap();
        assert!(store::try_lock_sealer(&mut tx).await.unwrap());
        let sealed = store::seal_pending(&mut tx, 50).await.unwrap();
        tx.commit().await.unwrap();
        total += sealed;
        if sealed < 50 {
            return total;
        }
    }
}

/// Seals until `expected` entries are in the chain. The horizon is cluster-wide: any
/// transaction running anywhere in the cluster (parallel tests, other databases) holds
/// sealing back for a moment, so the helper retries for a while.
async fn seal_until(pool: &PgPool, expected: i64) {
    for _ in 0..400 {
        seal_all(pool).await;
        let sealed: i64 = sqlx::query_scalar("select count(*) from ledger_seals")
            .fetch_one(pool)
            .await
            .unwrap();
        if sealed >= expected {
            assert_eq!(sealed, expected);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sealer did not reach {expected} entries");
}

/// Rolls up until at least `expected` days are aggregated. Like sealing, a day waits for
/// transactions running anywhere in the cluster, so retry for a while.
async fn rollup_until(pool: &PgPool, expected: i64) {
    let mut days = 0;
    for _ in 0..400 {
        let mut tx = pool.begin().await.unwrap();
        days += store::rollup_once(&mut tx, 100).await.unwrap().days;
        tx.commit().await.unwrap();
        if days >= expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{days} days rolled up, not {expected}");
}

async fn verify(pool: &PgPool) -> store::VerifyReport {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await
        .unwrap();
    let report = store::verify_chain(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    report
}

fn month_start(at: DateTime<Utc>) -> NaiveDate {
    // Cambodian month of an instant (UTC+7 all year).
    let local = at + chrono::Duration::hours(7);
    NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_postings_into_a_closed_period(pool: PgPool) {
    post(&pool, &payment("0320", "land", 4000)).await;
    // Raw SQL closes the current month, which the API would refuse (not over yet): the
    // trigger must hold whatever wrote the row.
    let this_month: NaiveDate = sqlx::query_scalar(
        "select date_trunc('month', now() at time zone 'Asia/Phnom_Penh')::date",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("insert into ledger_closed_periods (office_code, month, closed_by) values ('0320', $1, 'test')")
        .bind(this_month)
        .execute(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let raw = sqlx::query(
        "insert into ledger_entries (office_code, kind, description) values ('0320', 'raw', 'raw sql')",
    )
    .execute(&mut *tx)
    .await;
    match raw {
        Err(sqlx::Error::Database(error)) => {
            assert_eq!(error.constraint(), Some("ledger_entries_period_open"));
            assert!(error.message().contains("is closed"), "{}", error.message());
        }
        other => panic!("a posting into a closed period was accepted: {other:?}"),
    }
    drop(tx);
    let mut tx = pool.begin().await.unwrap();
    let typed = store::post(&mut tx, &payment("0320", "land", 4000)).await;
    assert!(
        matches!(typed, Err(LedgerError::PeriodClosed(_))),
        "{typed:?}"
    );
    drop(tx);
    // Another office's month is still open.
    post(&pool, &payment("1201", "land", 4000)).await;
    // A closed month cannot be reopened.
    assert!(sqlx::query("delete from ledger_closed_periods")
        .execute(&pool)
        .await
        .is_err());
}

#[sqlx::test(migrations = "../migrations")]
async fn closing_a_month_then_correcting_it_in_the_open_month(pool: PgPool) {
    let now = Utc::now();
    let last_month = month_start(now).checked_sub_months(Months::new(1)).unwrap();
    let in_last_month = Utc
        .from_utc_datetime(&last_month.and_hms_opt(5, 0, 0).unwrap())
        .checked_add_signed(chrono::Duration::days(3))
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let old = historical_entry(&mut conn, "0320", "land", 9000, in_last_month).await;

    let mut tx = pool.begin().await.unwrap();
    let this_month = month_start(now);
    let early = store::close_period(&mut tx, "0320", this_month, "test").await;
    assert!(
        matches!(early, Err(LedgerError::PeriodNotClosable(_))),
        "{early:?}"
    );
    drop(tx);
    let mut tx = pool.begin().await.unwrap();
    let closed = store::close_period(&mut tx, "0320", last_month, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(closed, CloseOutcome::Closed(ref period) if period.month == last_month));
    let mut tx = pool.begin().await.unwrap();
    let again = store::close_period(&mut tx, "0320", last_month, "other")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(again, CloseOutcome::AlreadyClosed(ref period) if period.closed_by == "test"));

    // The reversal posts now, in the open month, and names the closed month by itself.
    let mut tx = pool.begin().await.unwrap();
    let reversal = store::reverse(&mut tx, ledger::EntryId(old), "voided after close", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let corrects: Option<NaiveDate> =
        sqlx::query_scalar("select corrects_period from ledger_entries where id = $1")
            .bind(reversal.entry_id().0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(corrects, Some(last_month));

    // A hand-made correction names the month; naming an open month is refused.
    let amount = Money::from_minor(100, Currency::Khr);
    let correction = |month| {
        EntryBuilder::new(
            "0320",
            "correction",
            "fee misclassified in the closed month",
        )
        .corrects_period(month)
        .debit(revenue("0320", "land"), amount)
        .credit(revenue("0320", "construction"), amount)
        .build()
        .unwrap()
    };
    let id = post(&pool, &correction(last_month)).await;
    assert!(id > 0);
    let mut tx = pool.begin().await.unwrap();
    let open = store::post(&mut tx, &correction(this_month)).await;
    assert!(
        matches!(open, Err(LedgerError::InvalidEntry(_))),
        "{open:?}"
    );
    drop(tx);
    let periods = store::list_closed_periods(&mut conn, None).await.unwrap();
    assert_eq!(periods.len(), 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_names_the_entry_whose_amount_or_time_was_tampered_with(pool: PgPool) {
    let mut ids = Vec::new();
    for minor in [1000, 2000, 3000, 4000] {
        ids.push(post(&pool, &payment("0320", "land", minor)).await);
    }
    seal_until(&pool, 4).await;
    let report = verify(&pool).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, 4);
    assert_eq!(report.head_seq, 4);

    // Amount: both lines changed, so the entry still balances; only the chain sees it.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("update ledger_postings set amount_minor = amount_minor * 10 where entry_id = $1")
        .bind(ids[2])
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = verify(&pool).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_entry, Some(ids[2]), "{report:?}");
    assert_eq!(report.entries_checked, 2);
    sqlx::query("update ledger_postings set amount_minor = amount_minor / 10 where entry_id = $1")
        .bind(ids[2])
        .execute(&mut *conn)
        .await
        .unwrap();
    assert!(verify(&pool).await.ok);

    // Time of the entry, and then of its postings too (so the entry looks consistent).
    sqlx::query(
        "update ledger_entries set created_at = created_at - interval '40 days' where id = $1",
    )
    .bind(ids[1])
    .execute(&mut *conn)
    .await
    .unwrap();
    let report = verify(&pool).await;
    assert_eq!(report.first_bad_entry, Some(ids[1]), "{report:?}");
    sqlx::query("update ledger_postings set created_at = created_at - interval '40 days' where entry_id = $1")
        .bind(ids[1])
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = verify(&pool).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_entry, Some(ids[1]), "{report:?}");

    // A seal removed: the next seal no longer links.
    sqlx::query("delete from ledger_seals where entry_id = $1")
        .bind(ids[0])
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = verify(&pool).await;
    assert_eq!(report.first_bad_entry, Some(ids[1]), "{report:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn entries_in_flight_hold_the_sealer_back(pool: PgPool) {
    // A transaction that took an id first but commits last must not be chained after later
    // entries were sealed past it: the sealer waits for it. A first entry creates the
    // accounts, so that the two below do not queue on each other's new account rows.
    let first = post(&pool, &payment("0320", "land", 3)).await;
    let mut slow = pool.begin().await.unwrap();
    let slow_id = store::post(&mut slow, &payment("0320", "land", 1))
        .await
        .unwrap()
        .entry_id()
        .0;
    let fast_id = post(&pool, &payment("0320", "land", 2)).await;
    // Only the first entry: the slow transaction holds back everything that began after it.
    seal_until(&pool, 1).await;
    seal_all(&pool).await;
    seal_until(&pool, 1).await;
    slow.commit().await.unwrap();
    seal_until(&pool, 3).await;
    let order: Vec<i64> = sqlx::query_scalar("select entry_id from ledger_seals order by seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(order, [first, slow_id, fast_id]);
    assert!(verify(&pool).await.ok);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_sealers_at_once_make_one_chain(pool: PgPool) {
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for n in 0..40 {
                    post(&pool, &payment("0320", "land", 100 + writer * 1000 + n)).await;
                }
            })
        })
        .collect();
    let sealers: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut sealed = 0;
                for _ in 0..60 {
                    let mut tx = pool.begin().await.unwrap();
                    if store::try_lock_sealer(&mut tx).await.unwrap() {
                        sealed += store::seal_pending(&mut tx, 7).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                sealed
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut by_sealers = 0;
    for sealer in sealers {
        by_sealers += sealer.await.unwrap();
    }
    seal_until(&pool, 160).await;
    assert!(by_sealers <= 160);
    let (count, max_seq, distinct): (i64, i64, i64) =
        sqlx::query_as("select count(*), max(seq), count(distinct entry_id) from ledger_seals")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((count, max_seq, distinct), (160, 160, 160));
    let report = verify(&pool).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, 160);
}

#[sqlx::test(migrations = "../migrations")]
async fn point_in_time_balances_match_a_recomputation_from_postings(pool: PgPool) {
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    // Ten days of history in two offices, several entries a day at varied hours.
    for day in 1..=10_i64 {
        for (n, office) in ["0320", "1201", "0320"].iter().enumerate() {
            let n = i64::try_from(n).unwrap();
            let at = now - chrono::Duration::days(day) + chrono::Duration::minutes(n * 97 - 120);
            let sector = if n == 1 { "construction" } else { "land" };
            historical_entry(&mut conn, office, sector, 1000 * day + n, at).await;
        }
    }
    post(&pool, &payment("0320", "land", 777)).await;
    // Roll up everything that is over.
    rollup_until(&pool, 10).await;
    let aggregated: i64 = sqlx::query_scalar("select count(*) from ledger_daily_balances")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(aggregated > 0);
    post(&pool, &payment("1201", "land", 555)).await;

    let mut instants: Vec<DateTime<Utc>> = (0..=11)
        .map(|day| now - chrono::Duration::days(day) + chrono::Duration::hours(day % 5))
        .collect();
    instants.push(Utc::now());
    for as_of in instants {
        for offices in [None, Some(vec!["0320".to_owned()])] {
            let lines = store::trial_balance(&mut conn, offices.as_deref(), Some(as_of))
                .await
                .unwrap();
            let got: Vec<(String, i64, i64, i64)> = lines
                .iter()
                .map(|line| {
                    (
                        line.account.clone(),
                        line.debit_minor,
                        line.credit_minor,
                        line.balance_minor,
                    )
                })
                .collect();
            let expected: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                "select a.code,
                        coalesce(sum(p.amount_minor) filter (where p.amount_minor > 0), 0)::bigint,
                        coalesce(-sum(p.amount_minor) filter (where p.amount_minor < 0), 0)::bigint,
                        sum(p.amount_minor)::bigint
                 from ledger_postings p join ledger_accounts a on a.id = p.account_id
                 where p.created_at <= $1 and ($2::text[] is null or p.office_code = any ($2))
                 group by a.code order by a.code collate \"C\"",
            )
            .bind(as_of)
            .bind(offices.as_deref())
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(got, expected, "trial balance as of {as_of}");
            for (code, _, _, balance) in &expected {
                let account = store::find_account(&mut conn, code).await.unwrap();
                let line = store::account_balance(&mut conn, &account, as_of)
                    .await
                    .unwrap();
                assert_eq!(line.balance_minor, *balance, "{code} as of {as_of}");
            }
        }
    }

    // A statement's running balance ends at the closing balance, from the opening one.
    let account = store::find_account(&mut conn, "0320:clearing:khqr:KHR")
        .await
        .unwrap();
    let from = now - chrono::Duration::days(6);
    let to = Utc::now();
    let statement = store::statement(&mut conn, &account, from, to, 1000)
        .await
        .unwrap();
    let opening = store::account_balance(&mut conn, &account, from)
        .await
        .unwrap();
    let closing = store::account_balance(&mut conn, &account, to)
        .await
        .unwrap();
    assert_eq!(statement.opening_minor, opening.balance_minor);
    assert_eq!(statement.closing_minor, closing.balance_minor);
    // Days 1 to 5 have two 0320 entries each, day 6 one after `from`, and one posted today.
    assert_eq!(statement.lines.len(), 12);
    let too_many = store::statement(&mut conn, &account, from, to, 3).await;
    assert!(matches!(too_many, Err(LedgerError::RangeTooLarge(3))));
}

#[sqlx::test(migrations = "../migrations")]
async fn digests_state_the_head_and_verify_checks_them(pool: PgPool) {
    for minor in [10, 20, 30] {
        post(&pool, &payment("0320", "land", minor)).await;
    }
    seal_until(&pool, 3).await;
    let mut conn = pool.acquire().await.unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
    let payload = store::digest_payload(&mut conn, day).await.unwrap();
    assert_eq!(payload.head_seq, 3);
    assert_eq!(
        payload.accounts,
        [
            ("0320:clearing:khqr:KHR".to_owned(), 60),
            ("0320:revenue:land:KHR".to_owned(), -60)
        ]
    );
    let text = payload.to_text();
    assert!(text.starts_with("owso-pay-ledger-digest v1\nday 2026-10-31\nhead_seq 3\n"));
    assert!(
        store::insert_digest(&mut conn, &payload, &[7; 64], &[9; 32])
            .await
            .unwrap()
    );
    assert!(
        !store::insert_digest(&mut conn, &payload, &[7; 64], &[9; 32])
            .await
            .unwrap()
    );
    assert!(store::has_digest(&mut conn, day).await.unwrap());
    assert_eq!(store::list_digests(&mut conn, 10).await.unwrap().len(), 1);
    assert!(verify(&pool).await.ok);
}

#[sqlx::test(migrations = "../migrations")]
async fn verify_recomputes_the_daily_balances_and_names_a_tampered_one(pool: PgPool) {
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    for day in 1..=3_i64 {
        for office in ["0320", "1201"] {
            historical_entry(
                &mut conn,
                office,
                "land",
                100 * day,
                now - chrono::Duration::days(day),
            )
            .await;
        }
    }
    rollup_until(&pool, 3).await;
    seal_until(&pool, 6).await;
    let report = verify(&pool).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.rollup_rows_checked, 12, "{report:?}");

    // A superuser edits one day's aggregate (keeping its own check constraint happy).
    let day = (now - chrono::Duration::days(2)).date_naive();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "update ledger_daily_balances set debit_minor = debit_minor + 1, balance_minor = balance_minor + 1
         where day = $1 and account_id = (select id from ledger_accounts where code = '1201:clearing:khqr:KHR')",
    )
    .bind(day)
    .execute(&mut *conn)
    .await
    .unwrap();
    let report = verify(&pool).await;
    assert!(!report.ok);
    assert_eq!(
        report.first_bad_rollup,
        Some(("1201:clearing:khqr:KHR".to_owned(), day))
    );
    assert_eq!(report.first_bad_entry, None);
    assert!(report.reason.unwrap().contains("1201:clearing:khqr:KHR"));

    // Put it back, then remove a row: a rolled-up day with postings and no aggregate.
    sqlx::query(
        "update ledger_daily_balances set debit_minor = debit_minor - 1, balance_minor = balance_minor - 1
         where day = $1 and account_id = (select id from ledger_accounts where code = '1201:clearing:khqr:KHR')",
    )
    .bind(day)
    .execute(&mut *conn)
    .await
    .unwrap();
    assert!(verify(&pool).await.ok);
    sqlx::query(
        "delete from ledger_daily_balances
         where day = $1 and account_id = (select id from ledger_accounts where code = '0320:revenue:land:KHR')",
    )
    .bind(day)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = verify(&pool).await;
    assert_eq!(
        report.first_bad_rollup,
        Some(("0320:revenue:land:KHR".to_owned(), day))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn monthly_balances_carry_long_histories_and_verify_names_a_tampered_one(pool: PgPool) {
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    // Forty days back: at least one whole month before this one, whatever today is.
    for day in (1..=40_i64).step_by(3) {
        for (n, office) in ["0320", "1201"].iter().enumerate() {
            let n = i64::try_from(n).unwrap();
            let at = now - chrono::Duration::days(day) + chrono::Duration::minutes(n * 61);
            historical_entry(&mut conn, office, "land", 100 * day + n, at).await;
        }
    }
    let first_day = (now - chrono::Duration::days(40)).date_naive();
    let today = now.date_naive();
    rollup_until(&pool, (today - first_day).num_days()).await;
    let (months, next_month): (i64, Option<NaiveDate>) = sqlx::query_as(
        "select (select count(distinct month) from ledger_monthly_balances),
                (select next_month from ledger_rollup_state)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(months >= 1, "{months} months aggregated");
    // UTC months, as the daily rows are UTC days.
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    assert_eq!(next_month, Some(this_month));

    // Balances at instants in every month, and at month ends, equal the postings' sums.
    let mut instants: Vec<DateTime<Utc>> = (0..=45)
        .step_by(2)
        .map(|day| now - chrono::Duration::days(day) + chrono::Duration::hours(day % 7))
        .collect();
    instants.push(
        month_start(now).and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::Duration::seconds(1),
    );
    for as_of in instants {
        for offices in [None, Some(vec!["1201".to_owned()])] {
            let lines = store::trial_balance(&mut conn, offices.as_deref(), Some(as_of))
                .await
                .unwrap();
            let got: Vec<(String, i64)> = lines
                .iter()
                .map(|line| (line.account.clone(), line.balance_minor))
                .collect();
            let expected: Vec<(String, i64)> = sqlx::query_as(
                "select a.code, sum(p.amount_minor)::bigint
                 from ledger_postings p join ledger_accounts a on a.id = p.account_id
                 where p.created_at <= $1 and ($2::text[] is null or p.office_code = any ($2))
                 group by a.code order by a.code collate \"C\"",
            )
            .bind(as_of)
            .bind(offices.as_deref())
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(got, expected, "trial balance as of {as_of}");
        }
    }
    seal_all(&pool).await;
    let report = verify(&pool).await;
    assert!(report.ok, "{report:?}");
    assert!(report.monthly_rows_checked >= 2, "{report:?}");

    // A superuser edits one month's aggregate: verify names it, though every day is right.
    let (account, month): (String, NaiveDate) = sqlx::query_as(
        "select a.code, m.month from ledger_monthly_balances m
         join ledger_accounts a on a.id = m.account_id
         order by m.month, a.code limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "update ledger_monthly_balances set credit_minor = credit_minor + 5, balance_minor = balance_minor - 5
         where month = $1 and account_id = (select id from ledger_accounts where code = $2)",
    )
    .bind(month)
    .bind(&account)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = verify(&pool).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_rollup, Some((account.clone(), month)));
    assert!(report.reason.unwrap().contains("monthly balance"));
}
