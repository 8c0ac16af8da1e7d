//! Group commit: many writers, few transactions.
//!
//! A commit waits for its WAL to reach the disk; that wait, not the work of the entry, bounds
//! how many entries one connection commits per second. A [`GroupCommitter`] takes entries from
//! any number of concurrent writers, writes whatever is waiting (up to
//! [`GroupConfig::max_batch`]) in one transaction with [`store::post_batch`], and commits
//! once: every writer of the batch shares one disk flush. While one batch commits, the next
//! one gathers, so a busy committer sends larger batches and an idle one adds no delay
//! (nothing waits for a batch to fill).
//!
//! It is for ledger-only writes (bulk postings, reconciliation and cash-drawer entries, the
//! benchmark's writers): an entry that must commit together with other rows (a payment's
//! state change and outbox event) is posted with [`store::post`] inside that transaction.
//!
//! The gathering loop itself is [`GroupQueue`], generic over the job: the payments service
//! settles bank reports through the same loop, with its own commit (a payment's claim, entry,
//! state change and event in one transaction per group).
//!
//! **Failures stay per entry.** When the database refuses anything in a batch (a closed month,
//! a reversal that lost a race), the transaction is rolled back and every entry of the batch
//! is posted again alone, in its own transaction, so each writer gets its own answer; the same
//! when the server answers the commit with an error (it rolled back). When the commit fails
//! any other way, whether it took effect is unknown (the connection may have died after the
//! server committed); every writer of the batch then gets
//! [`LedgerError::CommitOutcomeUnknown`] and nothing is retried, since an entry without an
//! idempotency key could otherwise be posted twice. Writers retry with their idempotency key.

use std::future::Future;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::entry::BalancedEntry;
use crate::error::LedgerError;
use crate::store::{self, PostOutcome};

/// How a [`GroupCommitter`] batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfig {
    /// Most entries in one transaction.
    pub max_batch: usize,
    /// Transactions in flight at once (each holds one pooled connection while it works).
    /// Two or more keep the disk busy: one batch gathers and writes while another flushes.
    pub committers: usize,
    /// Entries that may wait for a committer; [`GroupCommitter::post`] waits when it is full.
    pub queue: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            max_batch: 256,
            committers: 2,
            queue: 4096,
        }
    }
}

/// The loop under [`GroupCommitter`], for any job: many submitters, a few committer tasks,
/// each of which waits for a first job, takes whatever else is already queued (up to
/// [`GroupConfig::max_batch`]) and hands the group to its commit function, while the next
/// committer gathers. An idle queue adds no delay: nothing waits for a group to fill.
///
/// The commit function answers each job itself (a job usually carries a oneshot sender).
/// Cheap to clone; the committer tasks stop once every clone is dropped and the queue is empty.
pub struct GroupQueue<J> {
    jobs: mpsc::Sender<J>,
}

impl<J> Clone for GroupQueue<J> {
    fn clone(&self) -> Self {
        GroupQueue {
            jobs: self.jobs.clone(),
        }
    }
}

impl<J> std::fmt::Debug for GroupQueue<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupQueue")
            .field("capacity", &self.jobs.max_capacity())
            .finish_non_exhaustive()
    }
}

impl<J: Send + 'static> GroupQueue<J> {
    /// Starts `config.committers` committer tasks on the current tokio runtime; each group of
    /// up to `config.max_batch` jobs goes to `commit`, which must answer every job of it.
    pub fn start<F, Fut>(config: GroupConfig, commit: F) -> GroupQueue<J>
    where
        F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        let commit = Arc::new(commit);
        let max_batch = config.max_batch.max(1);
        for _ in 0..config.committers.max(1) {
            let queue = Arc::clone(&queue);
            let commit = Arc::clone(&commit);
            tokio::spawn(async move {
                let mut group = Vec::with_capacity(max_batch);
                loop {
                    {
                        // One committer gathers at a time: it waits for a first job, then takes
                        // what else is already queued, and lets the next committer gather
                        // while it commits.
                        let mut queue = queue.lock().await;
                        if queue.recv_many(&mut group, max_batch).await == 0 {
                            return;
                        }
                    }
                    commit(std::mem::take(&mut group)).await;
                }
            });
        }
        GroupQueue { jobs }
    }

    /// Queues `job` for the next group; waits while the queue is full.
    ///
    /// # Errors
    ///
    /// The job back when the committer tasks are gone (the runtime is shutting down).
    pub async fn submit(&self, job: J) -> Result<(), J> {
        self.jobs.send(job).await.map_err(|error| error.0)
    }
}

/// One writer's entry and where its answer goes.
struct Job {
    entry: BalancedEntry,
    reply: oneshot::Sender<Result<PostOutcome, LedgerError>>,
}

/// Posts entries of concurrent writers in shared transactions; see the module documentation.
///
/// Cheap to clone; the committer tasks stop once every clone is dropped and the queue is empty.
#[derive(Debug, Clone)]
pub struct GroupCommitter {
    queue: GroupQueue<Job>,
}

impl GroupCommitter {
    /// Starts `config.committers` committer tasks on the current tokio runtime, writing through
    /// `pool`.
    pub fn start(pool: PgPool, config: GroupConfig) -> GroupCommitter {
        let queue = GroupQueue::start(config, move |batch| {
            let pool = pool.clone();
            async move { commit_batch(&pool, batch).await }
        });
        GroupCommitter { queue }
    }

    /// Posts `entry` in the next batch and waits until that batch committed.
    ///
    /// # Errors
    ///
    /// Whatever [`store::post`] would answer for this entry alone;
    /// [`LedgerError::CommitOutcomeUnknown`] when the commit failed without an answer from
    /// the server;
    /// [`LedgerError::GroupCommitterStopped`] when the committer tasks are gone (the runtime
    /// is shutting down).
    pub async fn post(&self, entry: BalancedEntry) -> Result<PostOutcome, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .submit(Job { entry, reply })
            .await
            .map_err(|_| LedgerError::GroupCommitterStopped)?;
        answer
            .await
            .map_err(|_| LedgerError::GroupCommitterStopped)?
    }
}

/// Writes and commits `batch` and answers every writer.
async fn commit_batch(pool: &PgPool, mut batch: Vec<Job>) {
    let entries: Vec<&BalancedEntry> = batch.iter().map(|job| &job.entry).collect();
    let written = match pool.begin().await {
        Ok(mut tx) => match store::post_batch(&mut tx, &entries).await {
            Ok(outcomes) => Some(tx.commit().await.map(|()| outcomes)),
            // Rolled back when `tx` drops; the entries are tried alone below.
            Err(_) => None,
        },
        Err(_) => None,
    };
    match written {
        Some(Ok(outcomes)) => {
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                // A writer that stopped waiting does not need its answer.
                let _ = job.reply.send(Ok(outcome));
            }
        }
        // The server answered the commit with an error: it rolled back, so the entries are
        // tried alone like a refused batch.
        Some(Err(sqlx::Error::Database(_))) | None => {
            for job in batch.drain(..) {
                let outcome = post_alone(pool, &job.entry).await;
                let _ = job.reply.send(outcome);
            }
        }
        Some(Err(error)) => {
            let reason = error.to_string();
            for job in batch.drain(..) {
                let _ = job
                    .reply
                    .send(Err(LedgerError::CommitOutcomeUnknown(reason.clone())));
            }
        }
    }
}

async fn post_alone(pool: &PgPool, entry: &BalancedEntry) -> Result<PostOutcome, LedgerError> {
    let mut tx = pool.begin().await?;
    let outcome = store::post(&mut tx, entry).await?;
    match tx.commit().await {
        Ok(()) => Ok(outcome),
        // Answered by the server: rolled back, nothing written.
        Err(error @ sqlx::Error::Database(_)) => Err(LedgerError::Database(error)),
        Err(error) => Err(LedgerError::CommitOutcomeUnknown(error.to_string())),
    }
}
