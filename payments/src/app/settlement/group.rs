//! A group of reports settled in one transaction (app::settlement_batch gathers them): every
//! claim in one statement, the intents and attempts locked in two, the plain payments posted
//! and written set-based, the unusual ones settled one by one as a single report is, every
//! inbox verdict in one statement, and the receipt numbers handed out just before the commit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{PaidWrite, Report, Settlement};
use crate::app::attempts::AttemptRow;
use crate::app::error::AppError;
use crate::app::inbox;
use crate::app::intents::IntentRow;
use crate::app::receipts;
use crate::app::settlement;
use crate::app::states::InboxStatus;
use crate::db::settlement as store;

/// The whole group in one transaction; outcomes in the order of `reports`.
#[tracing::instrument(skip_all, fields(callbacks = reports.len()))]
pub(crate) async fn settle_group(
    pool: &PgPool,
    reports: &[&Report],
) -> Result<Vec<Settlement>, AppError> {
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
pub(crate) async fn mark(
    conn: &mut PgConnection,
    marks: &[(&Report, &Settlement)],
) -> Result<(), AppError> {
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
