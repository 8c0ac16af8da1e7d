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
//!
//! Anything unusual in a group (a payment for an unknown reference, a wrong amount, a second
//! payment of one intent) is settled one by one inside the same transaction, through the
//! same code as a single callback ([`settlement::record_claimed`]). Should the group's
//! transaction fail, every callback is settled again alone, in its own transaction: the
//! provider transaction id is claimed once, so a group that did commit after all answers
//! `Duplicate` the second time and nothing is counted twice.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use ledger::{GroupConfig, GroupQueue};
use sqlx::{PgConnection, PgPool};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::attempts::AttemptRow;
use super::inbox;
use super::intents::IntentRow;
use super::receipts::{self, Numbering};
use super::settlement::{self, PaidWrite, Report, Settlement};
use super::states::InboxStatus;
use crate::app::error::AppError;
use crate::db::settlement as store;

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

/// The whole group in one transaction; outcomes in the order of `reports`.
#[tracing::instrument(skip_all, fields(callbacks = reports.len()))]
async fn settle_group(pool: &PgPool, reports: &[&Report]) -> Result<Vec<Settlement>, AppError> {
    let mut tx = pool.begin().await?;
    let claimed = claim(&mut tx, reports).await?;
    let locked = Locked::take(&mut tx, &claimed).await?;
    let (plain, unusual) = locked.sort(&claimed);
    let mut outcomes: Vec<Option<Settlement>> = vec![None; reports.len()];
    let unnumbered = settle_plain(&mut tx, &plain, &mut outcomes).await?;
    // The rest one by one, after the usual ones, so a second payment of an intent paid in
    // this group sees it paid.
    let staged_offices = settle_unusual(&mut tx, unusual, &mut outcomes).await?;
    let outcomes: Vec<Settlement> = outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(Settlement::Duplicate))
        .collect();
    let marks: Vec<(&Report, &Settlement)> = reports.iter().copied().zip(&outcomes).collect();
    mark(&mut tx, &marks).await?;
    number_group(&mut tx, &staged_offices, &unnumbered).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// The intents and attempts a group's reports name, locked.
struct Locked {
    intents: Vec<IntentRow>,
    attempts: Vec<AttemptRow>,
}

/// A report that pays its attempt exactly: its index in the group, with its attempt and intent.
type Plain<'a> = (usize, &'a Report, &'a AttemptRow, &'a IntentRow);

impl Locked {
    /// Lock order as everywhere (settlement::record_claimed): intents before their attempts,
    /// each set in id order, so a group cannot deadlock with a cancel, the expiry sweep or
    /// another group. The attempts are first read without a lock, only to learn their intents.
    /// Found by (channel, reference): a channel settles only its own attempts; a report naming
    /// another channel's attempt finds nothing here and is settled as unusual.
    async fn take(
        conn: &mut PgConnection,
        claimed: &[(usize, &Report)],
    ) -> Result<Locked, AppError> {
        let channels: Vec<&str> = claimed
            .iter()
            .map(|(_, report)| report.channel.as_str())
            .collect();
        let references: Vec<&str> = claimed
            .iter()
            .map(|(_, report)| report.provider_reference.as_str())
            .collect();
        let intent_ids = store::group_intent_ids(&mut *conn, &channels, &references).await?;
        let intents = store::lock_intents(&mut *conn, &intent_ids).await?;
        let attempts = store::lock_group_attempts(&mut *conn, &channels, &references).await?;
        Ok(Locked { intents, attempts })
    }

    /// Splits the claimed reports into the plain ones (each pays its attempt exactly, one per
    /// intent) and the unusual rest.
    fn sort<'a>(
        &'a self,
        claimed: &[(usize, &'a Report)],
    ) -> (Vec<Plain<'a>>, Vec<(usize, &'a Report)>) {
        let attempts: HashMap<&str, &AttemptRow> = self
            .attempts
            .iter()
            .map(|a| (a.provider_reference.as_str(), a))
            .collect();
        let intents: HashMap<Uuid, &IntentRow> = self.intents.iter().map(|i| (i.id, i)).collect();
        let mut plain = Vec::new();
        let mut unusual = Vec::new();
        let mut intents_paid: HashSet<Uuid> = HashSet::new();
        for &(index, report) in claimed {
            let pair = attempts
                .get(report.provider_reference.as_str())
                .filter(|attempt| attempt.channel == report.channel)
                .and_then(|attempt| {
                    intents
                        .get(&attempt.payment_intent_id)
                        .map(|intent| (*attempt, *intent))
                });
            match pair {
                Some((attempt, intent))
                    if settlement::unexpected(report, attempt, intent).is_none()
                        && intents_paid.insert(intent.id) =>
                {
                    plain.push((index, report, attempt, intent));
                }
                _ => unusual.push((index, report)),
            }
        }
        (plain, unusual)
    }
}

/// The usual case, set-based: every entry in three statements, every state write in one.
/// Not staged: returns the payments to number, by office, in this transaction.
async fn settle_plain<'a>(
    conn: &mut PgConnection,
    plain: &[Plain<'a>],
    outcomes: &mut [Option<Settlement>],
) -> Result<BTreeMap<&'a str, Vec<receipts::Unnumbered>>, AppError> {
    let mut built = Vec::with_capacity(plain.len());
    for (_, report, attempt, intent) in plain {
        built.push(settlement::payment_entry(report, intent, attempt)?);
    }
    let entries: Vec<&ledger::BalancedEntry> = built.iter().map(|(entry, _, _)| entry).collect();
    let posted = if entries.is_empty() {
        Vec::new()
    } else {
        ledger::store::post_batch(&mut *conn, &entries).await?
    };
    let writes: Vec<PaidWrite<'_>> = plain
        .iter()
        .zip(&built)
        .zip(&posted)
        .map(
            |(((_, report, attempt, intent), (_, total, paid_at)), posted)| PaidWrite {
                report,
                intent,
                attempt,
                entry_id: posted.entry_id().0,
                total: *total,
                paid_at: *paid_at,
            },
        )
        .collect();
    if !writes.is_empty() {
        settlement::write_paid(conn, &writes, false).await?;
    }
    for (index, _, _, intent) in plain {
        if let Some(slot) = outcomes.get_mut(*index) {
            *slot = Some(Settlement::Paid {
                payment_intent_id: intent.id,
                office_code: intent.office_code.clone(),
            });
        }
    }
    Ok(unnumbered(&writes))
}

/// The payments a group wrote paid, by office, as they are numbered.
fn unnumbered<'a>(writes: &[PaidWrite<'a>]) -> BTreeMap<&'a str, Vec<receipts::Unnumbered>> {
    let mut unnumbered: BTreeMap<&'a str, Vec<receipts::Unnumbered>> = BTreeMap::new();
    for write in writes {
        unnumbered
            .entry(write.intent.office_code.as_str())
            .or_default()
            .push(receipts::Unnumbered {
                payment_intent_id: write.intent.id,
                fiscal_year: receipts::fiscal_year(write.paid_at),
                case_reference: write.intent.case_reference.clone(),
                total_minor: write.total.amount_minor(),
                currency: write.total.currency().code().to_owned(),
                channel: write.report.channel.as_str().to_owned(),
                paid_at: write.paid_at,
            });
    }
    unnumbered
}

/// Settles the unusual reports one by one, as a single report is settled. One of them that
/// pays stages its event as a single payment does; returns the offices whose queue is to be
/// numbered.
async fn settle_unusual(
    conn: &mut PgConnection,
    unusual: Vec<(usize, &Report)>,
    outcomes: &mut [Option<Settlement>],
) -> Result<BTreeSet<String>, AppError> {
    let mut staged_offices: BTreeSet<String> = BTreeSet::new();
    for (index, report) in unusual {
        let outcome = settlement::record_claimed(&mut *conn, report).await?;
        if let Settlement::Paid { office_code, .. } = &outcome {
            staged_offices.insert(office_code.clone());
        }
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Some(outcome);
        }
    }
    Ok(staged_offices)
}

/// Numbered last before the commit: the office's counter is held from here to the commit,
/// once for the whole group, and no numbering transaction follows. Staged rows first, so
/// their locks come before the counter's, in the order every numbering takes them.
async fn number_group(
    conn: &mut PgConnection,
    staged_offices: &BTreeSet<String>,
    unnumbered: &BTreeMap<&str, Vec<receipts::Unnumbered>>,
) -> Result<(), AppError> {
    for office in staged_offices {
        receipts::number_office_in(&mut *conn, office).await?;
    }
    for (office, payments) in unnumbered {
        receipts::number_paid_in(&mut *conn, office, payments).await?;
    }
    Ok(())
}

/// Claims the group's provider transaction ids ([`settlement::claim`]); returns the reports
/// that won their claim, with their index.
async fn claim<'r>(
    conn: &mut PgConnection,
    reports: &[&'r Report],
) -> Result<Vec<(usize, &'r Report)>, AppError> {
    let won = settlement::claim(conn, reports).await?;
    Ok(reports
        .iter()
        .copied()
        .enumerate()
        .zip(won)
        .filter_map(|(claimed, won)| won.then_some(claimed))
        .collect())
}

/// Marks every report's raw message with its verdict, in one statement.
async fn mark(conn: &mut PgConnection, marks: &[(&Report, &Settlement)]) -> Result<(), AppError> {
    let marks: Vec<(i64, &Report, &Settlement)> = marks
        .iter()
        .filter_map(|(r, outcome)| r.inbox_message_id.map(|id| (id, *r, *outcome)))
        .collect();
    let ids: Vec<i64> = marks.iter().map(|(id, _, _)| *id).collect();
    let statuses: Vec<InboxStatus> = marks
        .iter()
        .map(|(_, _, outcome)| outcome.inbox_status())
        .collect();
    let verdicts: Vec<String> = marks
        .iter()
        .map(|(_, _, outcome)| outcome.verdict())
        .collect();
    let transaction_ids: Vec<&str> = marks
        .iter()
        .map(|(_, r, _)| r.transaction_id.as_str())
        .collect();
    let signatures: Vec<Option<bool>> = marks.iter().map(|(_, r, _)| r.signature_valid).collect();
    inbox::mark_many(
        conn,
        &ids,
        &statuses,
        &verdicts,
        &transaction_ids,
        &signatures,
    )
    .await
}
