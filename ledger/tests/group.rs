//! Batches and group commit against a real PostgreSQL: `store::post_batch` gives the answers
//! `store::post` would give entry by entry, and `GroupCommitter` shares transactions between
//! concurrent writers without losing a per-writer answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use ledger::store::{self, PostOutcome};
use ledger::{
    BalancedEntry, Currency, EntryBuilder, EntryId, GroupCommitter, GroupConfig, LedgerError, Money,
};
use sqlx::PgPool;

use support::{clearing, revenue};

fn payment(office: &str, key: Option<&str>, minor: i64) -> BalancedEntry {
    let amount = Money::from_minor(minor, Currency::Khr);
    let builder = EntryBuilder::new(office, "payment_confirmed", "group commit test")
        .debit(clearing(office), amount)
        .credit(revenue(office, "land"), amount);
    match key {
        Some(key) => builder.idempotency_key(key).build().unwrap(),
        None => builder.build().unwrap(),
    }
}

/// A committer with batches of up to 64 and room for 1,024 waiting entries.
fn committer(pool: &PgPool, committers: usize) -> GroupCommitter {
    GroupCommitter::start(
        pool.clone(),
        GroupConfig {
            max_batch: 64,
            committers,
            queue: 1024,
        },
    )
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Every entry has exactly the postings it was built with (amounts by entry id).
async fn postings_by_entry(pool: &PgPool) -> BTreeMap<i64, Vec<(String, i64)>> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "select p.entry_id, a.code, p.amount_minor from ledger_postings p
         join ledger_accounts a on a.id = p.account_id order by p.id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut by_entry: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
    for (entry, code, amount) in rows {
        by_entry.entry(entry).or_default().push((code, amount));
    }
    by_entry
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_answers_entry_by_entry_like_post(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    let PostOutcome::Posted(earlier) = store::post(&mut tx, &payment("0320", Some("k:old"), 5))
        .await
        .unwrap()
    else {
        panic!("not posted")
    };
    tx.commit().await.unwrap();

    let reversal = store::reversal_of(&mut pool.acquire().await.unwrap(), earlier, "undo")
        .await
        .unwrap()
        .idempotency_key("k:undo")
        .build()
        .unwrap();
    let batch = [
        payment("0320", Some("k:1"), 100),
        payment("1201", None, 200),
        payment("0320", Some("k:old"), 999),
        payment("0320", Some("k:1"), 999),
        reversal,
        payment("1201", Some("k:2"), 300),
    ];
    let refs: Vec<&BalancedEntry> = batch.iter().collect();
    let mut tx = pool.begin().await.unwrap();
    let outcomes = store::post_batch(&mut tx, &refs).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(outcomes.len(), 6);
    let PostOutcome::Posted(first) = outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(matches!(outcomes[1], PostOutcome::Posted(_)));
    assert_eq!(outcomes[2], PostOutcome::AlreadyPosted(earlier));
    assert_eq!(outcomes[3], PostOutcome::AlreadyPosted(first));
    assert!(matches!(outcomes[4], PostOutcome::Posted(_)));
    assert!(matches!(outcomes[5], PostOutcome::Posted(_)));
    // New entries get increasing ids in input order.
    let plain_ids: Vec<EntryId> = [0, 1, 5].iter().map(|i| outcomes[*i].entry_id()).collect();
    assert!(plain_ids.windows(2).all(|pair| pair[0] < pair[1]));

    let postings = postings_by_entry(&pool).await;
    assert_eq!(postings.len(), 5, "one old entry and four new ones");
    assert_eq!(
        postings[&first.0],
        vec![
            ("0320:clearing:khqr:KHR".to_owned(), 100),
            ("0320:revenue:land:KHR".to_owned(), -100)
        ]
    );
    assert_eq!(
        postings[&outcomes[1].entry_id().0],
        vec![
            ("1201:clearing:khqr:KHR".to_owned(), 200),
            ("1201:revenue:land:KHR".to_owned(), -200)
        ]
    );
    assert_eq!(
        postings[&outcomes[4].entry_id().0],
        vec![
            ("0320:clearing:khqr:KHR".to_owned(), -5),
            ("0320:revenue:land:KHR".to_owned(), 5)
        ]
    );
    assert_eq!(
        scalar(
            &pool,
            "select coalesce(sum(amount_minor), 0)::bigint from ledger_postings"
        )
        .await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_entry_aborts_its_batch(pool: PgPool) {
    let missing = EntryBuilder::new("0320", store::REVERSAL_KIND, "reverses nothing")
        .reverses(EntryId(424242))
        .debit(revenue("0320", "land"), Money::from_minor(1, Currency::Khr))
        .credit(clearing("0320"), Money::from_minor(1, Currency::Khr))
        .build()
        .unwrap();
    let batch = [payment("0320", Some("k:a"), 1), missing];
    let refs: Vec<&BalancedEntry> = batch.iter().collect();
    let mut tx = pool.begin().await.unwrap();
    let result = store::post_batch(&mut tx, &refs).await;
    assert!(
        matches!(result, Err(LedgerError::EntryNotFound(EntryId(424242)))),
        "{result:?}"
    );
    drop(tx);
    assert_eq!(
        scalar(&pool, "select count(*) from ledger_entries").await,
        0
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_share_transactions_and_each_key_posts_once(pool: PgPool) {
    let committer = committer(&pool, 2);
    // 300 writers: 200 distinct keys (100 of them sent twice, at the same time) and 100
    // entries without a key, over three offices.
    let mut writers = Vec::new();
    for n in 0..300_i64 {
        let office = ["0320", "1201", "0101"][usize::try_from(n % 3).unwrap()];
        let key = match n {
            0..=199 => Some(format!("k:{n}")),
            _ => None,
        };
        let mut entries = vec![payment(office, key.as_deref(), 1000 + n)];
        if n < 100 {
            entries.push(payment(office, key.as_deref(), 1000 + n));
        }
        for entry in entries {
            let committer = committer.clone();
            writers.push(tokio::spawn(async move {
                (n, committer.post(entry).await.unwrap())
            }));
        }
    }
    let mut ids_by_writer: BTreeMap<i64, BTreeSet<EntryId>> = BTreeMap::new();
    let mut posted = 0;
    for writer in writers {
        let (n, outcome) = writer.await.unwrap();
        if matches!(outcome, PostOutcome::Posted(_)) {
            posted += 1;
        }
        ids_by_writer
            .entry(n)
            .or_default()
            .insert(outcome.entry_id());
    }
    assert_eq!(posted, 300);
    // Both senders of a key got the same entry.
    assert!(ids_by_writer.values().all(|ids| ids.len() == 1));
    assert_eq!(
        scalar(&pool, "select count(*) from ledger_entries").await,
        300
    );
    assert_eq!(
        scalar(
            &pool,
            "select count(distinct idempotency_key) from ledger_entries"
        )
        .await,
        200
    );
    assert_eq!(
        scalar(&pool, "select count(*) from ledger_postings").await,
        600
    );
    assert_eq!(
        scalar(
            &pool,
            "select sum(amount_minor)::bigint from ledger_postings"
        )
        .await,
        0
    );
    // Group commit happened: far fewer transactions than entries.
    let transactions = scalar(&pool, "select count(distinct txid) from ledger_entries").await;
    assert!(
        transactions < 150,
        "{transactions} transactions for 300 entries"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_entry_gets_its_own_answer_and_the_others_commit(pool: PgPool) {
    let committer = committer(&pool, 1);
    let mut writers = Vec::new();
    for n in 0..40_i64 {
        let entry = if n == 17 {
            EntryBuilder::new("0320", store::REVERSAL_KIND, "reverses nothing")
                .reverses(EntryId(424242))
                .debit(revenue("0320", "land"), Money::from_minor(1, Currency::Khr))
                .credit(clearing("0320"), Money::from_minor(1, Currency::Khr))
                .build()
                .unwrap()
        } else {
            payment("0320", Some(&format!("k:{n}")), 10)
        };
        let committer = committer.clone();
        writers.push(tokio::spawn(
            async move { (n, committer.post(entry).await) },
        ));
    }
    for writer in writers {
        let (n, outcome) = writer.await.unwrap();
        if n == 17 {
            assert!(
                matches!(outcome, Err(LedgerError::EntryNotFound(EntryId(424242)))),
                "{outcome:?}"
            );
        } else {
            assert!(matches!(outcome, Ok(PostOutcome::Posted(_))), "{outcome:?}");
        }
    }
    assert_eq!(
        scalar(&pool, "select count(*) from ledger_entries").await,
        39
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_commit_the_server_refuses_is_retried_entry_by_entry(pool: PgPool) {
    // A test-only deferred check that refuses one marked entry at commit, the way the balance
    // check would refuse a broken one: the whole batch's commit fails with an answer.
    sqlx::query(
        "create function refuse_marked() returns trigger language plpgsql as $$
         begin
             if new.description = 'refuse at commit' then
                 raise exception 'refused at commit';
             end if;
             return null;
         end $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "create constraint trigger refuse_marked after insert on ledger_entries
         deferrable initially deferred for each row execute function refuse_marked()",
    )
    .execute(&pool)
    .await
    .unwrap();
    let committer = committer(&pool, 1);
    let mut writers = Vec::new();
    for n in 0..30_i64 {
        let amount = Money::from_minor(10, Currency::Khr);
        let description = if n == 11 {
            "refuse at commit"
        } else {
            "group commit test"
        };
        let entry = EntryBuilder::new("0320", "payment_confirmed", description)
            .idempotency_key(format!("k:{n}"))
            .debit(clearing("0320"), amount)
            .credit(revenue("0320", "land"), amount)
            .build()
            .unwrap();
        let committer = committer.clone();
        writers.push(tokio::spawn(
            async move { (n, committer.post(entry).await) },
        ));
    }
    for writer in writers {
        let (n, outcome) = writer.await.unwrap();
        if n == 11 {
            assert!(
                matches!(outcome, Err(LedgerError::Database(_))),
                "{outcome:?}"
            );
        } else {
            assert!(matches!(outcome, Ok(PostOutcome::Posted(_))), "{outcome:?}");
        }
    }
    assert_eq!(
        scalar(&pool, "select count(*) from ledger_entries").await,
        29
    );
}

/// The loop under `GroupCommitter`, generic over the job (the payments service settles bank
/// reports through it): jobs that arrive while a group commits wait and form the next group
/// together, never more than `max_batch`, and every job reaches the commit function once.
#[tokio::test]
async fn a_group_queue_gathers_what_arrives_while_a_group_commits() {
    use std::sync::Arc;
    use tokio::sync::{mpsc, Notify};

    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (groups, mut seen) = mpsc::unbounded_channel::<Vec<u32>>();
    let (on_start, gate) = (Arc::clone(&started), Arc::clone(&release));
    let queue = ledger::GroupQueue::start(
        GroupConfig {
            max_batch: 4,
            committers: 1,
            queue: 64,
        },
        move |group: Vec<u32>| {
            let (on_start, gate, groups) =
                (Arc::clone(&on_start), Arc::clone(&gate), groups.clone());
            async move {
                // The first group holds the only committer until released.
                if group.contains(&0) {
                    on_start.notify_one();
                    gate.notified().await;
                }
                groups.send(group).unwrap();
            }
        },
    );
    queue.submit(0).await.unwrap();
    started.notified().await;
    for job in 1..=6 {
        queue.submit(job).await.unwrap();
    }
    release.notify_one();
    let mut got = Vec::new();
    while got.iter().map(Vec::len).sum::<usize>() < 7 {
        got.push(seen.recv().await.unwrap());
    }
    assert_eq!(got, vec![vec![0], vec![1, 2, 3, 4], vec![5, 6]]);
}
