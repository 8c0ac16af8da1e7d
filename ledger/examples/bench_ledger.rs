//! Ledger bench: trial balance over a large ledger with and without the daily
//! aggregates, posting throughput (1 office vs 204 offices), sealing and verification.
//!
//! Run with `scripts/bench-ledger.sh` (or `cargo run --release -p ledger --example
//! bench_ledger`). It creates (and leaves, for inspection) the database `owso_bench_ledger`
//! on the server of `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! History is bulk-loaded as a superuser with the triggers off, spread over past days, since
//! the triggers date every entry "now"; posting throughput goes through `store::post` with
//! every trigger on. Knobs: `BENCH_POSTINGS` (default 1000000), `BENCH_DAYS` (60),
//! `BENCH_SEAL` (1: also seal and verify the whole chain).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::float_arithmetic,
    missing_docs
)]

use std::time::{Duration, Instant};

use ledger::store;
use ledger::{
    AccountCode, AccountKind, Currency, EntryBuilder, GroupCommitter, GroupConfig, Money,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

const DATABASE: &str = "owso_bench_ledger";
const OFFICES: i64 = 204;

fn env_i64(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(default)
}

fn office(n: i64) -> String {
    format!("{:04}", 100 + n)
}

async fn setup(base: &PgConnectOptions, database: &str) -> PgPool {
    let mut admin = base.clone().connect().await.unwrap();
    sqlx::query(&format!("drop database if exists {database} with (force)"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!("create database {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect_with(base.clone().database(database))
        .await
        .unwrap();
    sqlx::migrate!("../migrations").run(&pool).await.unwrap();
    pool
}

/// Bulk-loads `postings / 2` two-line entries over `days` past days in 204 offices.
async fn load_history(pool: &PgPool, postings: i64, days: i64) {
    let mut conn = pool.acquire().await.unwrap();
    for n in 0..OFFICES {
        for sector in ["construction", "land", "labour"] {
            let revenue = AccountCode::new(
                &office(n),
                AccountKind::Revenue {
                    sector: sector.into(),
                },
                Currency::Khr,
            )
            .unwrap();
            store::ensure_account(&mut conn, &revenue).await.unwrap();
        }
        let clearing = AccountCode::new(
            &office(n),
            AccountKind::Clearing {
                channel: "khqr".into(),
            },
            Currency::Khr,
        )
        .unwrap();
        store::ensure_account(&mut conn, &clearing).await.unwrap();
    }
    let entries = postings / 2;
    let chunk = 50_000;
    let mut start = 0;
    while start < entries {
        let end = (start + chunk).min(entries);
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("set local session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "insert into ledger_entries (office_code, kind, description, created_at)
             select lpad((100 + g % 204)::text, 4, '0'), 'payment_confirmed', 'bench history',
                    now() - interval '1 day' - (($3::float8 * (g::float8 / $4::float8)) * interval '1 day')
             from generate_series($1::bigint, $2::bigint - 1) g",
        )
        .bind(start)
        .bind(end)
        .bind(days as f64)
        .bind(entries as f64)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor, created_at)
             select e.id, a.id, 'KHR', e.office_code, side.amount, e.created_at
             from ledger_entries e
             cross join lateral (values ('clearing:khqr', 600000::bigint),
                                        ((array['revenue:construction','revenue:land','revenue:labour'])[1 + e.id % 3], -600000::bigint)) side (kind, amount)
             join ledger_accounts a on a.code = e.office_code || ':' || side.kind || ':KHR'
             where e.id > (select coalesce(max(entry_id), 0) from ledger_postings)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        start = end;
    }
    sqlx::query("analyze").execute(pool).await.unwrap();
}

async fn time_trial_balance(pool: &PgPool, label: &str, offices: Option<&[String]>) {
    let mut conn = pool.acquire().await.unwrap();
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..5 {
        let started = Instant::now();
        lines = store::trial_balance(&mut conn, offices, None)
            .await
            .unwrap()
            .len();
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "trial balance {label}: {lines} accounts, median {:.1} ms, max {:.1} ms",
        ms(times[2]),
        ms(times[4])
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn bench_entry(office: &str) -> ledger::BalancedEntry {
    let amount = Money::from_minor(600_000, Currency::Khr);
    EntryBuilder::new(office, "payment_confirmed", "bench")
        .debit(
            AccountCode::new(
                office,
                AccountKind::Clearing {
                    channel: "khqr".into(),
                },
                Currency::Khr,
            )
            .unwrap(),
            amount,
        )
        .credit(
            AccountCode::new(
                office,
                AccountKind::Revenue {
                    sector: "land".into(),
                },
                Currency::Khr,
            )
            .unwrap(),
            amount,
        )
        .build()
        .unwrap()
}

/// How the posting rows write.
#[derive(Clone, Copy)]
enum Writer {
    /// One transaction per entry through `store::post` (the service's payment path).
    Alone,
    /// Entries of all writers batched by a `GroupCommitter`.
    Grouped(GroupConfig),
}

/// Posts two-line entries from `tasks` concurrent writers for `seconds`, spread over `offices`
/// offices (every trigger on); returns entries per second.
async fn posting_throughput(
    pool: &PgPool,
    writer: Writer,
    tasks: i64,
    offices: i64,
    seconds: u64,
) -> f64 {
    let committer = match writer {
        Writer::Alone => None,
        Writer::Grouped(config) => Some(GroupCommitter::start(pool.clone(), config)),
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let pool = pool.clone();
            let committer = committer.clone();
            tokio::spawn(async move {
                let mut posted = 0_u64;
                let mut n = task;
                while Instant::now() < deadline {
                    let entry = bench_entry(&office(n % offices));
                    n += tasks;
                    match &committer {
                        Some(committer) => {
                            committer.post(entry).await.unwrap();
                        }
                        None => {
                            let mut tx = pool.begin().await.unwrap();
                            store::post(&mut tx, &entry).await.unwrap();
                            tx.commit().await.unwrap();
                        }
                    }
                    posted += 1;
                }
                posted
            })
        })
        .collect();
    let mut total = 0;
    for handle in handles {
        total += handle.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// `BENCH_PART=posting`: the ledger rows of `make bench`'s four-way comparison, on a fresh
/// database, as JSON lines: (b) one office, (c) 204 offices, both through a `GroupCommitter`,
/// plus the same two without batching for reference.
async fn posting_part(pool: &PgPool) {
    let tasks = env_i64("BENCH_CONCURRENCY", 16);
    let seconds = u64::try_from(env_i64("BENCH_SECONDS", 10)).unwrap();
    let grouped = Writer::Grouped(GroupConfig {
        max_batch: usize::try_from(env_i64("BENCH_MAX_BATCH", 256)).unwrap(),
        committers: usize::try_from(env_i64("BENCH_COMMITTERS", 2)).unwrap(),
        queue: 4096,
    });
    // Warm-up: accounts exist, caches are hot, before anything is measured.
    posting_throughput(pool, grouped, tasks, OFFICES, 1).await;
    for (row, writer, offices) in [
        ("ledger_one_office", grouped, 1),
        ("ledger_204_offices", grouped, OFFICES),
        ("ledger_one_office_unbatched", Writer::Alone, 1),
        ("ledger_204_offices_unbatched", Writer::Alone, OFFICES),
    ] {
        let rate = posting_throughput(pool, writer, tasks, offices, seconds).await;
        println!(
            "{{\"row\":\"{row}\",\"writers\":{tasks},\"offices\":{offices},\"seconds\":{seconds},\"per_s\":{rate:.0}}}"
        );
    }
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let base: PgConnectOptions = url.parse().unwrap();
    let postings = env_i64("BENCH_POSTINGS", 1_000_000);
    let days = env_i64("BENCH_DAYS", 60);
    if std::env::var("BENCH_PART").as_deref() == Ok("posting") {
        let pool = setup(&base, "owso_bench_posting").await;
        posting_part(&pool).await;
        return;
    }
    let pool = setup(&base, DATABASE).await;

    let started = Instant::now();
    load_history(&pool, postings, days).await;
    println!(
        "loaded {postings} postings ({} entries, {OFFICES} offices, {days} days) in {:.1} s",
        postings / 2,
        started.elapsed().as_secs_f64()
    );

    let offices_one = vec![office(0)];
    time_trial_balance(&pool, "from postings only (no aggregates)", None).await;
    time_trial_balance(&pool, "one office, from postings only", Some(&offices_one)).await;

    let started = Instant::now();
    let mut rolled = 0;
    loop {
        let mut tx = pool.begin().await.unwrap();
        let outcome = store::rollup_once(&mut tx, 1000).await.unwrap();
        tx.commit().await.unwrap();
        rolled += outcome.days;
        if outcome.days == 0 && rolled > 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            println!("roll-up did not finish (a long transaction elsewhere holds xmin)");
            break;
        }
    }
    println!(
        "rolled up {rolled} days in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    for (label, writer) in [
        ("store::post, one transaction each", Writer::Alone),
        (
            "GroupCommitter (batches of up to 256, 2 committers)",
            Writer::Grouped(GroupConfig::default()),
        ),
    ] {
        let one = posting_throughput(&pool, writer, 16, 1, 5).await;
        let many = posting_throughput(&pool, writer, 16, OFFICES, 5).await;
        println!(
            "posting via {label}, 16 writers: 1 office {one:.0} entries/s, 204 offices {many:.0} entries/s"
        );
    }

    time_trial_balance(&pool, "aggregates + today's postings", None).await;
    time_trial_balance(
        &pool,
        "one office, aggregates + today's postings",
        Some(&offices_one),
    )
    .await;

    if env_i64("BENCH_SEAL", 1) == 1 {
        let started = Instant::now();
        let mut sealed = 0;
        loop {
            let mut tx = pool.begin().await.unwrap();
            assert!(store::try_lock_sealer(&mut tx).await.unwrap());
            let batch = store::seal_pending(&mut tx, 5_000).await.unwrap();
            tx.commit().await.unwrap();
            sealed += batch;
            if batch == 0 {
                break;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "sealed {sealed} entries in {elapsed:.1} s ({:.0} entries/s)",
            sealed as f64 / elapsed
        );
        let started = Instant::now();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await
            .unwrap();
        let report = store::verify_chain(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        println!(
            "verified {} entries (ok: {}) in {:.1} s",
            report.entries_checked,
            report.ok,
            started.elapsed().as_secs_f64()
        );
    }
}
