//! The one settlement path: every bank report (a sandbox callback, the sandbox status
//! worker's answer, the Bakong poller's, an inbox message recovered after a crash) is settled
//! here. Group commit: the reports that arrive while a group is being written are settled
//! together, in one transaction, with a fixed number of statements for the
//! usual case (each one pays its attempt exactly), instead of about ten statements and a
//! commit each. The gathering loop is `ledger::GroupQueue`, the one under
//! `ledger::GroupCommitter`, one level up: the claim, the
//! ledger entry, the state change, the staged event and the inbox verdict of every callback
//! still commit together, and each callback gets its own [`Settlement`]. The group also hands
//! out its receipt numbers before it commits, so the office's counter moves once per group.
//! This module gathers the groups and answers the callers; [`settlement::group`] is the
//! group's transaction.
//!
//! Anything unusual in a group (a payment for an unknown reference, a wrong amount, a second
//! payment of one intent) is settled one by one inside the same transaction, through the
//! same code as a single callback ([`settlement::record_claimed`]). Should the group's
//! transaction fail, every callback is settled again alone, in its own transaction: the
//! provider transaction id is claimed once, so a group that did commit after all answers
//! `Duplicate` the second time and nothing is counted twice.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use ledger::{GroupConfig, GroupQueue};
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::inbox;
use super::receipts::Numbering;
use super::settlement::group::{mark, settle_group};
use super::settlement::{self, Report, Settlement};
use super::states::InboxStatus;
use crate::app::error::AppError;

/// Most callbacks settled in one transaction.
const MAX_GROUP: usize = 128;
/// Groups written at once (each holds one pooled connection while it works).
const COMMITTERS: usize = 2;

struct Job {
    report: Report,
    reply: oneshot::Sender<Result<Settlement, AppError>>,
}

/// Settles callbacks in groups; see the module documentation. The committer tasks start on
/// first use (inside the runtime).
pub struct SettlementBatcher {
    pool: PgPool,
    numbering: Arc<Numbering>,
    jobs: OnceLock<GroupQueue<Job>>,
}

impl SettlementBatcher {
    pub fn new(pool: PgPool, numbering: Arc<Numbering>) -> SettlementBatcher {
        SettlementBatcher {
            pool,
            numbering,
            jobs: OnceLock::new(),
        }
    }

    fn queue(&self) -> &GroupQueue<Job> {
        self.jobs.get_or_init(|| {
            let pool = self.pool.clone();
            let numbering = Arc::clone(&self.numbering);
            GroupQueue::start(
                GroupConfig {
                    max_batch: MAX_GROUP,
                    committers: COMMITTERS,
                    queue: 4096,
                },
                move |jobs| commit(pool.clone(), Arc::clone(&numbering), jobs),
            )
        })
    }

    /// Settles `report` in the next group, marks its inbox message with the verdict, and
    /// returns once the group committed and its payments were numbered. When settling fails
    /// the message is marked `failed` (kept to be replayed) and the error returned.
    #[tracing::instrument(skip_all, fields(provider = report.provider, provider.transaction_id = %report.transaction_id, channel = report.channel.as_str()))]
    pub async fn settle(&self, report: Report) -> Result<Settlement, AppError> {
        let inbox_id = report.inbox_message_id;
        let transaction_id = report.transaction_id.clone();
        let signature_valid = report.signature_valid;
        let outcome = match self.queued(report).await {
            Ok(outcome) => return Ok(outcome),
            Err(error) => error,
        };
        let Some(inbox_id) = inbox_id else {
            return Err(outcome);
        };
        inbox::mark(
            &self.pool,
            inbox_id,
            InboxStatus::Failed,
            signature_valid,
            "processing_failed",
            Some(&transaction_id),
        )
        .await?;
        Err(outcome)
    }

    async fn queued(&self, report: Report) -> Result<Settlement, AppError> {
        let (reply, answer) = oneshot::channel();
        self.queue()
            .submit(Job { report, reply })
            .await
            .map_err(|_| AppError::internal("the settlement committer has stopped"))?;
        answer
            .await
            .map_err(|_| AppError::internal("the settlement committer has stopped"))?
    }
}

/// Settles one group and answers each of its callers.
async fn commit(pool: PgPool, numbering: Arc<Numbering>, jobs: Vec<Job>) {
    let reports: Vec<&Report> = jobs.iter().map(|job| &job.report).collect();
    let outcomes = match settle_group(&pool, &reports).await {
        Ok(outcomes) => {
            // Numbered inside the group's transaction: answer at once.
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
            return;
        }
        Err(error) => {
            tracing::warn!(error = %error, callbacks = jobs.len(), "settling a group failed; settling each alone");
            let mut outcomes = Vec::with_capacity(jobs.len());
            for report in &reports {
                outcomes.push(settle_alone(&pool, report).await);
            }
            outcomes
        }
    };
    // Settled one by one: numbering follows (beside the committer, which goes on to the
    // next group at once); callers get their answer once their payment is numbered.
    tokio::spawn(number_and_answer(pool, numbering, jobs, outcomes));
}

async fn number_and_answer(
    pool: PgPool,
    numbering: Arc<Numbering>,
    jobs: Vec<Job>,
    outcomes: Vec<Result<Settlement, AppError>>,
) {
    let offices: BTreeSet<&str> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Ok(Settlement::Paid { office_code, .. }) => Some(office_code.as_str()),
            _ => None,
        })
        .collect();
    for office in offices {
        numbering.after_payment(&pool, office).await;
    }
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        // A caller that stopped waiting does not need its answer.
        let _ = job.reply.send(outcome);
    }
}

/// One callback in its own transaction: the path of a group that failed.
async fn settle_alone(pool: &PgPool, report: &Report) -> Result<Settlement, AppError> {
    let mut tx = pool.begin().await?;
    let outcome = settlement::record(&mut tx, report).await?;
    mark(&mut tx, &[(report, &outcome)]).await?;
    tx.commit().await?;
    Ok(outcome)
}
