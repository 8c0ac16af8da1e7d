//! The ledger against a real PostgreSQL: the store functions and the invariants the
//! migration makes the database hold by itself. Each test gets a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::store::{self, PostOutcome};
use ledger::{
    AccountCode, AccountKind, BalancedEntry, Currency, EntryBuilder, EntryId, LedgerError, Money,
};
use sqlx::{PgConnection, PgPool};

fn account(office: &str, kind: AccountKind, currency: Currency) -> AccountCode {
    AccountCode::new(office, kind, currency).unwrap()
}

fn clearing(office: &str, currency: Currency) -> AccountCode {
    account(
        office,
        AccountKind::Clearing {
            channel: "khqr".into(),
        },
        currency,
    )
}

fn revenue(office: &str, sector: &str, currency: Currency) -> AccountCode {
    account(
        office,
        AccountKind::Revenue {
            sector: sector.into(),
        },
        currency,
    )
}

fn money(minor: i64, currency: Currency) -> Money {
    Money::from_minor(minor, currency)
}

/// A payment of `lines` (sector, amount) into the office's KHQR clearing account.
fn payment(
    office: &str,
    key: Option<&str>,
    currency: Currency,
    lines: &[(&str, i64)],
) -> BalancedEntry {
    let total: i64 = lines.iter().map(|(_, minor)| minor).sum();
    let mut builder =
        EntryBuilder::new(office, "payment_confirmed", "case 0320018100 paid by khqr")
            .debit(clearing(office, currency), money(total, currency));
    for (sector, minor) in lines {
        builder = builder.credit(revenue(office, sector, currency), money(*minor, currency));
    }
    match key {
        Some(key) => builder.idempotency_key(key).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

async fn post_committed(pool: &PgPool, entry: &BalancedEntry) -> PostOutcome {
    let mut tx = pool.begin().await.unwrap();
    let outcome = store::post(&mut tx, entry).await.unwrap();
    tx.commit().await.unwrap();
    outcome
}

/// Creates two KHR accounts of office 0320 and returns their ids, for raw-SQL tests.
async fn two_accounts(pool: &PgPool) -> (i64, i64) {
    let mut conn = pool.acquire().await.unwrap();
    let debit = store::ensure_account(&mut conn, &clearing("0320", Currency::Khr))
        .await
        .unwrap();
    let credit = store::ensure_account(&mut conn, &revenue("0320", "land", Currency::Khr))
        .await
        .unwrap();
    (debit, credit)
}

async fn raw_entry(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "insert into ledger_entries (office_code, kind, description) values ('0320', 'raw', 'raw sql') returning id",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

async fn raw_posting(conn: &mut PgConnection, entry_id: i64, account_id: i64, amount_minor: i64) {
    sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor)
         values ($1, $2, 'KHR', '0320', $3)",
    )
    .bind(entry_id)
    .bind(account_id)
    .bind(amount_minor)
    .execute(conn)
    .await
    .unwrap();
}

/// Asserts the database refused with `code` and a message containing `needle`.
fn assert_refused(result: Result<impl std::fmt::Debug, sqlx::Error>, code: &str, needle: &str) {
    match result {
        Err(sqlx::Error::Database(error)) => {
            assert_eq!(error.code().as_deref(), Some(code), "{error}");
            assert!(
                error.message().contains(needle),
                "{:?} does not mention {needle:?}",
                error.message()
            );
        }
        other => panic!("expected a database refusal ({code}), got {other:?}"),
    }
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    let sql = match table {
        "ledger_entries" => "select count(*) from ledger_entries",
        "ledger_postings" => "select count(*) from ledger_postings",
        other => panic!("no count query for {other}"),
    };
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn post_writes_signed_postings_with_the_entry_time(pool: PgPool) {
    let entry = payment(
        "0320",
        Some("sandbox:txn_1:confirmed"),
        Currency::Khr,
        &[("construction", 400_000), ("land", 200_000)],
    );
    let PostOutcome::Posted(id) = post_committed(&pool, &entry).await else {
        panic!("not posted")
    };

    let mut conn = pool.acquire().await.unwrap();
    let postings = store::entry_postings(&mut conn, id).await.unwrap();
    let lines: Vec<(&str, i64)> = postings
        .iter()
        .map(|row| (row.account.as_str(), row.amount_minor))
        .collect();
    assert_eq!(
        lines,
        [
            ("0320:clearing:khqr:KHR", 600_000),
            ("0320:revenue:construction:KHR", -400_000),
            ("0320:revenue:land:KHR", -200_000),
        ]
    );
    let entry_time: DateTime<Utc> =
        sqlx::query_scalar("select created_at from ledger_entries where id = $1")
            .bind(id.0)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(postings.iter().all(|row| row.created_at == entry_time
        && row.currency == Currency::Khr
        && row.entry_id == id.0));
    let metadata: serde_json::Value =
        sqlx::query_scalar("select metadata from ledger_entries where id = $1")
            .bind(id.0)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(metadata, serde_json::json!({}));
    assert!(matches!(
        store::entry_postings(&mut conn, EntryId(id.0 + 100)).await,
        Err(LedgerError::EntryNotFound(EntryId(missing))) if missing == id.0 + 100
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn post_outside_a_transaction_is_refused_and_leaves_nothing(pool: PgPool) {
    // Each statement would commit on its own, so the entry row would meet the balance check
    // before its postings exist: the caller must own a transaction.
    let mut conn = pool.acquire().await.unwrap();
    let entry = payment("0320", Some("no-tx"), Currency::Khr, &[("land", 4000)]);
    let result = store::post(&mut conn, &entry).await;
    match result {
        Err(LedgerError::Database(error)) => {
            assert_refused(Err::<(), _>(error), "23514", "has 0 posting(s)")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(count(&pool, "ledger_entries").await, 0);
    assert_eq!(
        store::count_entries_with_key(&mut conn, "no-tx")
            .await
            .unwrap(),
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn unbalanced_entry_inserted_with_raw_sql_is_refused_at_commit(pool: PgPool) {
    let (debit, credit) = two_accounts(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    let entry_id = raw_entry(&mut tx).await;
    // Each statement succeeds: the check is deferred to commit, where the whole entry is known.
    raw_posting(&mut tx, entry_id, debit, 600_000).await;
    raw_posting(&mut tx, entry_id, credit, -599_999).await;
    assert_refused(
        tx.commit().await,
        "23514",
        &format!("ledger entry {entry_id} does not balance in KHR"),
    );
    assert_eq!(count(&pool, "ledger_entries").await, 0);
    assert_eq!(count(&pool, "ledger_postings").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn entry_with_one_posting_is_refused(pool: PgPool) {
    let built = EntryBuilder::new("0320", "payment_confirmed", "one line")
        .debit(clearing("0320", Currency::Khr), money(1, Currency::Khr))
        .build();
    assert!(matches!(built, Err(LedgerError::TooFewPostings)));

    let (debit, _) = two_accounts(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    let entry_id = raw_entry(&mut tx).await;
    raw_posting(&mut tx, entry_id, debit, 600_000).await;
    assert_refused(
        tx.commit().await,
        "23514",
        &format!("ledger entry {entry_id} has 1 posting(s)"),
    );

    let mut tx = pool.begin().await.unwrap();
    let entry_id = raw_entry(&mut tx).await;
    assert_refused(
        tx.commit().await,
        "23514",
        &format!("ledger entry {entry_id} has 0 posting(s)"),
    );
    assert_eq!(count(&pool, "ledger_entries").await, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn update_of_postings_and_entries_is_refused(pool: PgPool) {
    let entry = payment("0320", None, Currency::Khr, &[("land", 4000)]);
    let id = post_committed(&pool, &entry).await.entry_id();
    let update_posting = sqlx::query(
        "update ledger_postings set amount_minor = amount_minor * 2 where entry_id = $1",
    )
    .bind(id.0)
    .execute(&pool)
    .await;
    assert_refused(update_posting, "23001", "ledger rows are append-only");
    let update_entry =
        sqlx::query("update ledger_entries set description = 'edited' where id = $1")
            .bind(id.0)
            .execute(&pool)
            .await;
    assert_refused(update_entry, "23001", "ledger rows are append-only");
    let rename_account = sqlx::query("update ledger_accounts set code = '0320:revenue:other:KHR', kind = 'revenue' where code = '0320:revenue:land:KHR'")
        .execute(&pool)
        .await;
    assert_refused(rename_account, "23001", "cannot be renamed");
    let mut conn = pool.acquire().await.unwrap();
    let amounts: Vec<i64> = store::entry_postings(&mut conn, id)
        .await
        .unwrap()
        .iter()
        .map(|row| row.amount_minor)
        .collect();
    assert_eq!(amounts, [4000, -4000]);
}

#[sqlx::test(migrations = "../migrations")]
async fn delete_and_truncate_of_postings_and_entries_are_refused(pool: PgPool) {
    let entry = payment("0320", None, Currency::Khr, &[("land", 4000)]);
    let id = post_committed(&pool, &entry).await.entry_id();
    let delete_posting = sqlx::query("delete from ledger_postings where entry_id = $1")
        .bind(id.0)
        .execute(&pool)
        .await;
    assert_refused(delete_posting, "23001", "ledger rows are append-only");
    let delete_entry = sqlx::query("delete from ledger_entries where id = $1")
        .bind(id.0)
        .execute(&pool)
        .await;
    assert_refused(delete_entry, "23001", "ledger rows are append-only");
    for statement in [
        "truncate ledger_postings cascade",
        "truncate ledger_entries cascade",
        "truncate ledger_accounts cascade",
    ] {
        let truncate = sqlx::query(statement).execute(&pool).await;
        assert_refused(truncate, "23001", "ledger rows are append-only");
    }
    let delete_account = sqlx::query("delete from ledger_accounts")
        .execute(&pool)
        .await;
    assert_refused(delete_account, "23001", "cannot be renamed or deleted");
    assert_eq!(count(&pool, "ledger_postings").await, 2);
    assert_eq!(count(&pool, "ledger_entries").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn postings_cannot_join_an_entry_of_an_earlier_transaction_or_another_office(pool: PgPool) {
    let (debit, credit) = two_accounts(&pool).await;
    let entry = payment("0320", None, Currency::Khr, &[("land", 4000)]);
    let id = post_committed(&pool, &entry).await.entry_id();
    // A balanced pair added later would keep the books balanced but rewrite a past entry.
    let mut tx = pool.begin().await.unwrap();
    let added = sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor)
         values ($1, $2, 'KHR', '0320', 1), ($1, $3, 'KHR', '0320', -1)",
    )
    .bind(id.0)
    .bind(debit)
    .bind(credit)
    .execute(&mut *tx)
    .await;
    assert_refused(added, "23514", "written by an earlier transaction");
    tx.rollback().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let elsewhere = store::ensure_account(&mut conn, &revenue("0999", "land", Currency::Khr))
        .await
        .unwrap();
    drop(conn);
    let mut tx = pool.begin().await.unwrap();
    let entry_id = raw_entry(&mut tx).await;
    raw_posting(&mut tx, entry_id, debit, 5).await;
    let other_office = sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor) values ($1, $2, 'KHR', '0320', -5)",
    )
    .bind(entry_id)
    .bind(elsewhere)
    .execute(&mut *tx)
    .await;
    assert_refused(other_office, "23514", "of office 0999");
}

#[sqlx::test(migrations = "../migrations")]
async fn entries_take_the_database_clock(pool: PgPool) {
    let (debit, credit) = two_accounts(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    let entry_id: i64 = sqlx::query_scalar(
        "insert into ledger_entries (office_code, kind, description, created_at)
         values ('0320', 'raw', 'back-dated', '2001-01-01') returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    raw_posting(&mut tx, entry_id, debit, 5).await;
    raw_posting(&mut tx, entry_id, credit, -5).await;
    tx.commit().await.unwrap();
    let oldest: DateTime<Utc> = sqlx::query_scalar("select min(created_at) from ledger_postings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        oldest > Utc::now() - chrono::Duration::minutes(5),
        "back-dated to {oldest}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn posting_twice_with_the_same_key_writes_one_entry(pool: PgPool) {
    let entry = payment(
        "0320",
        Some("sandbox:txn_123:confirmed"),
        Currency::Khr,
        &[("land", 4000)],
    );
    let first = post_committed(&pool, &entry).await;
    let PostOutcome::Posted(id) = first else {
        panic!("first post: {first:?}")
    };
    assert_eq!(
        post_committed(&pool, &entry).await,
        PostOutcome::AlreadyPosted(id)
    );
    // The key decides, not the content: a different entry under a used key is not written.
    let other = payment(
        "0320",
        Some("sandbox:txn_123:confirmed"),
        Currency::Khr,
        &[("construction", 9000)],
    );
    assert_eq!(
        post_committed(&pool, &other).await,
        PostOutcome::AlreadyPosted(id)
    );

    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        store::count_entries_with_key(&mut conn, "sandbox:txn_123:confirmed")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store::count_entries_with_key(&mut conn, "sandbox:txn_999:confirmed")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store::find_entry_by_key(&mut conn, "sandbox:txn_123:confirmed")
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(count(&pool, "ledger_entries").await, 1);
    assert_eq!(count(&pool, "ledger_postings").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_posts_with_the_same_key_write_one_entry(pool: PgPool) {
    let entry = payment(
        "0320",
        Some("aba_payway:T-1"),
        Currency::Usd,
        &[("land", 1250)],
    );
    let mut first = pool.begin().await.unwrap();
    let PostOutcome::Posted(id) = store::post(&mut first, &entry).await.unwrap() else {
        panic!("not posted")
    };
    // The second transaction waits on the unique key until the first one commits.
    let second = tokio::spawn({
        let (pool, entry) = (pool.clone(), entry.clone());
        async move { post_committed(&pool, &entry).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second post must wait for the first transaction"
    );
    first.commit().await.unwrap();
    assert_eq!(second.await.unwrap(), PostOutcome::AlreadyPosted(id));
    assert_eq!(count(&pool, "ledger_entries").await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn reverse_mirrors_the_entry_once(pool: PgPool) {
    let entry = payment(
        "0320",
        None,
        Currency::Khr,
        &[("construction", 400_000), ("land", 200_000)],
    );
    let original = post_committed(&pool, &entry).await.entry_id();

    let mut tx = pool.begin().await.unwrap();
    let reversed = store::reverse(
        &mut tx,
        original,
        "receipt 0320-2026-000001 voided",
        Some("void:R1".into()),
    )
    .await
    .unwrap();
    let PostOutcome::Posted(reversal) = reversed else {
        panic!("reversal: {reversed:?}")
    };
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let mirrored: Vec<(String, i64)> = store::entry_postings(&mut conn, reversal)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.account, row.amount_minor))
        .collect();
    assert_eq!(
        mirrored,
        [
            ("0320:clearing:khqr:KHR".to_owned(), -600_000),
            ("0320:revenue:construction:KHR".to_owned(), 400_000),
            ("0320:revenue:land:KHR".to_owned(), 200_000),
        ]
    );
    let (kind, reverses, metadata): (String, Option<i64>, serde_json::Value) = sqlx::query_as(
        "select kind, reverses_entry_id, metadata from ledger_entries where id = $1",
    )
    .bind(reversal.0)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        (kind.as_str(), reverses),
        (ledger::REVERSAL_KIND, Some(original.0))
    );
    assert_eq!(
        metadata,
        serde_json::json!({"reversed_kind": "payment_confirmed"})
    );
    let balances = store::trial_balance(&mut conn, None, None).await.unwrap();
    assert!(
        balances.iter().all(|line| line.balance_minor == 0),
        "{balances:?}"
    );

    // A retry with the same key is a no-op; a second reversal is refused.
    let retry = store::reverse(&mut conn, original, "voided again", Some("void:R1".into()))
        .await
        .unwrap();
    assert_eq!(retry, PostOutcome::AlreadyPosted(reversal));
    let twice = store::reverse(&mut conn, original, "voided again", Some("void:R2".into())).await;
    assert!(
        matches!(twice, Err(LedgerError::AlreadyReversed(id)) if id == original),
        "{twice:?}"
    );
    let twice = store::reverse(&mut conn, original, "voided again", None).await;
    assert!(
        matches!(twice, Err(LedgerError::AlreadyReversed(_))),
        "{twice:?}"
    );
    let of_reversal = store::reverse(&mut conn, reversal, "undo the void", None).await;
    assert!(
        matches!(of_reversal, Err(LedgerError::ReversalNotReversible(id)) if id == reversal),
        "{of_reversal:?}"
    );
    let unknown = store::reverse(&mut conn, EntryId(987_654), "nothing", None).await;
    assert!(
        matches!(unknown, Err(LedgerError::EntryNotFound(EntryId(987_654)))),
        "{unknown:?}"
    );
    assert_eq!(count(&pool, "ledger_entries").await, 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn post_checks_hand_built_reversals(pool: PgPool) {
    let entry = payment("0320", None, Currency::Khr, &[("land", 4000)]);
    let original = post_committed(&pool, &entry).await.entry_id();
    let mut conn = pool.acquire().await.unwrap();
    let builder = store::reversal_of(&mut conn, original, "cashier mistake")
        .await
        .unwrap();
    let reversal = builder.idempotency_key("void:R7").build().unwrap();
    let PostOutcome::Posted(reversal_id) = post_committed(&pool, &reversal).await else {
        panic!("not posted")
    };
    assert_eq!(
        store::post(&mut conn, &reversal).await.unwrap(),
        PostOutcome::AlreadyPosted(reversal_id)
    );

    let again = store::reversal_of(&mut conn, original, "twice").await;
    assert!(matches!(again, Err(LedgerError::AlreadyReversed(_))));
    let by_hand = EntryBuilder::new("0320", "reversal", "by hand")
        .reverses(original)
        .debit(
            revenue("0320", "land", Currency::Khr),
            money(4000, Currency::Khr),
        )
        .credit(clearing("0320", Currency::Khr), money(4000, Currency::Khr))
        .build()
        .unwrap();
    assert!(matches!(
        store::post(&mut conn, &by_hand).await,
        Err(LedgerError::AlreadyReversed(_))
    ));
    let other_office = EntryBuilder::new("0999", "reversal", "by hand")
        .reverses(EntryId(original.0))
        .debit(
            revenue("0999", "land", Currency::Khr),
            money(4000, Currency::Khr),
        )
        .credit(clearing("0999", Currency::Khr), money(4000, Currency::Khr))
        .build()
        .unwrap();
    assert!(matches!(
        store::post(&mut conn, &other_office).await,
        Err(LedgerError::AlreadyReversed(_))
    ));
    let second = post_committed(
        &pool,
        &payment("0320", None, Currency::Khr, &[("land", 10)]),
    )
    .await
    .entry_id();
    let wrong_office = EntryBuilder::new("0999", "reversal", "by hand")
        .reverses(second)
        .debit(
            revenue("0999", "land", Currency::Khr),
            money(10, Currency::Khr),
        )
        .credit(clearing("0999", Currency::Khr), money(10, Currency::Khr))
        .build()
        .unwrap();
    assert!(matches!(
        store::post(&mut conn, &wrong_office).await,
        Err(LedgerError::InvalidEntry(_))
    ));
}

#[sqlx::test(migrations = "../migrations")]
async fn database_allows_one_reversal_and_none_of_a_reversal(pool: PgPool) {
    let entry = payment("0320", None, Currency::Khr, &[("land", 4000)]);
    let original = post_committed(&pool, &entry).await.entry_id();
    let mut tx = pool.begin().await.unwrap();
    let reversal = store::reverse(&mut tx, original, "voided", None)
        .await
        .unwrap()
        .entry_id();
    tx.commit().await.unwrap();

    let insert_reversal = |reverses: i64| {
        sqlx::query("insert into ledger_entries (office_code, kind, description, reverses_entry_id) values ('0320', 'reversal', 'raw', $1)")
            .bind(reverses)
    };
    let twice = insert_reversal(original.0).execute(&pool).await;
    assert_refused(twice, "23505", "ledger_entries_reverses_entry_id_key");
    let of_reversal = insert_reversal(reversal.0).execute(&pool).await;
    assert_refused(
        of_reversal,
        "23514",
        &format!("ledger entry {} is a reversal", reversal.0),
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn trial_balance_sums_to_zero_per_currency(pool: PgPool) {
    let entries = [
        payment(
            "0320",
            Some("k1"),
            Currency::Khr,
            &[("construction", 400_000), ("land", 200_000)],
        ),
        payment("0320", Some("k2"), Currency::Usd, &[("construction", 1250)]),
        payment("0320", Some("k3"), Currency::Khr, &[("land", 50_000)]),
        payment("0412", Some("k4"), Currency::Khr, &[("transport", 7000)]),
        payment(
            "0412",
            Some("k5"),
            Currency::Usd,
            &[("transport", 300), ("land", 99)],
        ),
    ];
    for entry in &entries {
        post_committed(&pool, entry).await;
    }
    let mut conn = pool.acquire().await.unwrap();
    let suspense = EntryBuilder::new("0320", "suspense", "unexpected khqr payment: already_paid")
        .debit(clearing("0320", Currency::Usd), money(500, Currency::Usd))
        .credit(
            account("0320", AccountKind::Suspense, Currency::Usd),
            money(500, Currency::Usd),
        )
        .build()
        .unwrap();
    post_committed(&pool, &suspense).await;
    let refund = EntryBuilder::new("0320", "refund_approved", "refund of case 0320018100")
        .debit(
            revenue("0320", "land", Currency::Khr),
            money(20_000, Currency::Khr),
        )
        .credit(
            account("0320", AccountKind::RefundsPayable, Currency::Khr),
            money(20_000, Currency::Khr),
        )
        .build()
        .unwrap();
    post_committed(&pool, &refund).await;

    let lines = store::trial_balance(&mut conn, None, None).await.unwrap();
    let mut per_currency: BTreeMap<Currency, (i64, i64, i64)> = BTreeMap::new();
    for line in &lines {
        assert_eq!(
            line.balance_minor,
            line.debit_minor - line.credit_minor,
            "{line:?}"
        );
        assert!(line.debit_minor >= 0 && line.credit_minor >= 0, "{line:?}");
        assert!(
            line.account.ends_with(line.currency.code())
                && line.account.starts_with(&line.office_code)
        );
        let totals = per_currency.entry(line.currency).or_default();
        *totals = (
            totals.0 + line.debit_minor,
            totals.1 + line.credit_minor,
            totals.2 + line.balance_minor,
        );
    }
    assert_eq!(per_currency[&Currency::Khr], (677_000, 677_000, 0));
    assert_eq!(per_currency[&Currency::Usd], (2149, 2149, 0));
    let codes: Vec<&str> = lines.iter().map(|line| line.account.as_str()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted, "ordered by account code");
    let land = lines
        .iter()
        .find(|line| line.account == "0320:revenue:land:KHR")
        .unwrap();
    assert_eq!(
        (land.debit_minor, land.credit_minor, land.balance_minor),
        (20_000, 250_000, -230_000)
    );

    let office = store::trial_balance(&mut conn, Some(&["0412".to_owned()]), None)
        .await
        .unwrap();
    assert!(!office.is_empty() && office.iter().all(|line| line.office_code == "0412"));
    assert_eq!(office.iter().map(|line| line.balance_minor).sum::<i64>(), 0);
    assert!(store::trial_balance(&mut conn, Some(&[]), None)
        .await
        .unwrap()
        .is_empty());
    let json = serde_json::to_value(land).unwrap();
    assert_eq!(json["currency"], "KHR");
}

#[sqlx::test(migrations = "../migrations")]
async fn trial_balance_as_of_excludes_later_postings(pool: PgPool) {
    post_committed(
        &pool,
        &payment("0320", Some("early"), Currency::Khr, &[("land", 4000)]),
    )
    .await;
    let cut: DateTime<Utc> = sqlx::query_scalar("select clock_timestamp()")
        .fetch_one(&pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    post_committed(
        &pool,
        &payment(
            "0320",
            Some("late"),
            Currency::Khr,
            &[("land", 1000), ("construction", 500)],
        ),
    )
    .await;

    let mut conn = pool.acquire().await.unwrap();
    let then = store::trial_balance(&mut conn, None, Some(cut))
        .await
        .unwrap();
    let then: Vec<(&str, i64)> = then
        .iter()
        .map(|line| (line.account.as_str(), line.balance_minor))
        .collect();
    assert_eq!(
        then,
        [
            ("0320:clearing:khqr:KHR", 4000),
            ("0320:revenue:land:KHR", -4000)
        ]
    );
    let now = store::trial_balance(&mut conn, None, None).await.unwrap();
    let now: Vec<(&str, i64)> = now
        .iter()
        .map(|line| (line.account.as_str(), line.balance_minor))
        .collect();
    assert_eq!(
        now,
        [
            ("0320:clearing:khqr:KHR", 5500),
            ("0320:revenue:construction:KHR", -500),
            ("0320:revenue:land:KHR", -5000)
        ]
    );
    let before_everything =
        store::trial_balance(&mut conn, None, Some(cut - chrono::Duration::days(1)))
            .await
            .unwrap();
    assert!(before_everything.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn accounts_are_created_once_and_listed_by_office(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let drawer = account("0320", AccountKind::CashDrawer, Currency::Khr);
    let first = store::ensure_account(&mut conn, &drawer).await.unwrap();
    assert_eq!(
        store::ensure_account(&mut conn, &drawer).await.unwrap(),
        first
    );
    store::ensure_account(
        &mut conn,
        &account("0320", AccountKind::BankFees, Currency::Usd),
    )
    .await
    .unwrap();
    store::ensure_account(
        &mut conn,
        &account("0412", AccountKind::Suspense, Currency::Khr),
    )
    .await
    .unwrap();

    let rows = store::list_accounts(&mut conn, Some(&["0320".to_owned()]))
        .await
        .unwrap();
    let listed: Vec<(&str, &str, Currency, &str)> = rows
        .iter()
        .map(|row| {
            (
                row.code.as_str(),
                row.kind.as_str(),
                row.currency,
                row.normal_balance.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("0320:bank-fees:USD", "bank_fees", Currency::Usd, "debit"),
            (
                "0320:cash:drawer:KHR",
                "cash_drawer",
                Currency::Khr,
                "debit"
            ),
        ]
    );
    assert_eq!(
        store::list_accounts(&mut conn, None).await.unwrap().len(),
        3
    );
    assert!(store::list_accounts(&mut conn, Some(&[]))
        .await
        .unwrap()
        .is_empty());
    for row in store::list_accounts(&mut conn, None).await.unwrap() {
        assert_eq!(
            AccountCode::parse(&row.code).unwrap().office_code(),
            row.office_code
        );
    }
}
