//! Gapless receipt numbers per office and fiscal year, handed out so that a payment's
//! transaction never holds the office's counter through more than one commit (migration 0007
//! says why). A payment settled alone stages its `payment.paid` event in `receipt_queue`
//! (app::settlement); [`number_office`] numbers everything staged for an office in one
//! transaction, right after, and releases the events with their numbers. A settled group
//! (app::settlement_batch) numbers the payments it has in hand inside its own transaction,
//! just before its commit ([`number_paid_in`]), without staging them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use sqlx::postgres::types::PgInterval;
use sqlx::{PgConnection, PgPool};

use super::money::{self, MoneyView};
use super::outbox::{self, Event, NewEvent};
use crate::app::error::AppError;
use crate::db::receipts as store;

/// Most staged payments numbered in one transaction.
const BATCH: i64 = 1000;

/// Cambodia keeps one time zone, UTC+7, and its fiscal year is the calendar year.
pub fn fiscal_year(at: DateTime<Utc>) -> i32 {
    match FixedOffset::east_opt(7 * 3600) {
        Some(offset) => at.with_timezone(&offset).year(),
        None => at.year(),
    }
}

pub use crate::db::receipts::Unnumbered;

/// Numbers every payment staged for `office` (up to a batch), releases their `payment.paid`
/// events, and returns how many it numbered.
///
/// Called right after a payment's commit. When another transaction is numbering the same
/// office, this one waits for it on the staged rows' locks and then numbers what that one did
/// not take, so once it returns, every payment staged before the call is numbered. Numbers
/// follow staging order within a transaction.
#[tracing::instrument(skip_all, fields(office.code = office))]
pub async fn number_office(pool: &PgPool, office: &str) -> Result<usize, AppError> {
    let mut tx = pool.begin().await?;
    let numbered = number_office_in(&mut tx, office).await?;
    if numbered > 0 {
        tx.commit().await?;
    }
    Ok(numbered)
}

/// [`number_office`] inside the caller's transaction: what the office has staged, its rows
/// locked before the counter, which is then held to the caller's commit.
#[tracing::instrument(skip_all, fields(office.code = office))]
pub async fn number_office_in(conn: &mut PgConnection, office: &str) -> Result<usize, AppError> {
    let rows = store::lock_queued(&mut *conn, office, BATCH).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    // Taken off the queue first (they are locked by us): the counter, once moved, is held
    // until the commit, so as little as possible comes after it.
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    store::delete_queued(&mut *conn, &ids).await?;
    let payments: Vec<&Unnumbered> = rows.iter().map(|row| &row.payment).collect();
    number(conn, office, &payments).await
}

/// Numbers payments of `office` that a settled group has in hand (written paid in this
/// transaction, never staged) and releases their events: the counter, then one statement for
/// the intents and one for the events. The group calls [`number_office_in`] first for any
/// payment it did stage, so the staged rows are still locked before the counter.
#[tracing::instrument(skip_all, fields(office.code = office, payments = payments.len()))]
pub async fn number_paid_in(
    conn: &mut PgConnection,
    office: &str,
    payments: &[Unnumbered],
) -> Result<usize, AppError> {
    let payments: Vec<&Unnumbered> = payments.iter().collect();
    number(conn, office, &payments).await
}

/// Moves the office's counter for each fiscal year once and writes the numbers and events.
async fn number(
    conn: &mut PgConnection,
    office: &str,
    payments: &[&Unnumbered],
) -> Result<usize, AppError> {
    if payments.is_empty() {
        return Ok(0);
    }
    let mut by_year: BTreeMap<i32, Vec<&Unnumbered>> = BTreeMap::new();
    for payment in payments {
        by_year
            .entry(payment.fiscal_year)
            .or_default()
            .push(payment);
    }
    // Counters in year order, after the staged rows: every numbering locks in the same order.
    for (year, staged) in by_year {
        let count = i64::try_from(staged.len()).map_err(AppError::internal)?;
        let last = store::advance_counter(&mut *conn, office, year, count).await?;
        let first = last - count + 1;
        let mut ids = Vec::with_capacity(staged.len());
        let mut numbers = Vec::with_capacity(staged.len());
        for (row, number) in staged.iter().zip(first..) {
            ids.push(row.payment_intent_id);
            numbers.push(format!("{office}-{year}-{number:06}"));
        }
        store::set_numbers(&mut *conn, &ids, &numbers).await?;
        let mut events = Vec::with_capacity(staged.len());
        for (row, receipt_number) in staged.iter().zip(numbers) {
            events.push(paid_event(office, row, receipt_number)?);
        }
        outbox::enqueue_many(&mut *conn, events).await?;
    }
    metrics::counter!("owso_receipts_numbered_total")
        .increment(u64::try_from(payments.len()).unwrap_or(0));
    Ok(payments.len())
}

/// The `payment.paid` event of a numbered payment.
fn paid_event<'a>(
    office: &'a str,
    row: &'a Unnumbered,
    receipt_number: String,
) -> Result<NewEvent<'a>, AppError> {
    let total = money::from_row(row.total_minor, &row.currency)?;
    Ok(NewEvent {
        office_code: office,
        case_reference: Some(&row.case_reference),
        payment_intent_id: Some(row.payment_intent_id),
        event: Event::PaymentPaid(outbox::PaymentPaid {
            payment_intent_id: row.payment_intent_id,
            case_reference: row.case_reference.clone(),
            office_code: office.to_owned(),
            total: MoneyView::from(total),
            channel: row.channel.clone(),
            receipt_number,
            paid_at: row.paid_at,
        }),
    })
}

/// Numbers what was staged more than `older_than` ago in every office: the safety net for a
/// process that stopped between a payment's commit and its numbering. Returns how many.
#[tracing::instrument(skip_all)]
pub async fn number_stragglers(
    pool: &PgPool,
    older_than: chrono::Duration,
) -> Result<usize, AppError> {
    let older_than = PgInterval::try_from(older_than).map_err(AppError::internal)?;
    let offices = store::offices_with_stragglers(pool, older_than).await?;
    let mut numbered = 0;
    for office in offices {
        numbered += number_office(pool, &office).await?;
    }
    Ok(numbered)
}

/// Coalesces the numbering rounds of this process: one round at a time per office, and a
/// payment waits for a round that started after its commit instead of running its own. With
/// many payments of one office in flight, one numbering transaction (and one disk flush)
/// serves all that committed while the previous round ran, and no transaction waits in the
/// database for another one's row locks just to find nothing left. Other processes
/// coordinate through the database (the staged rows' locks in [`number_office`]).
#[derive(Default)]
pub struct Numbering {
    offices: Mutex<HashMap<String, Arc<OfficeRounds>>>,
}

#[derive(Default)]
struct OfficeRounds {
    /// Rounds begun so far; a round counts itself before it reads the staged rows.
    started: AtomicU64,
    running: tokio::sync::Mutex<()>,
}

impl Numbering {
    fn office(&self, office: &str) -> Arc<OfficeRounds> {
        // A panic elsewhere while holding this lock leaves a map that is still whole.
        let mut offices = match self.offices.lock() {
            Ok(offices) => offices,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(offices.entry(office.to_owned()).or_default())
    }

    /// Makes sure the payments of `office` committed before this call are numbered. A failure
    /// is logged, not returned: the payment itself is recorded, and the worker numbers it.
    #[tracing::instrument(skip_all, fields(office.code = office))]
    pub async fn after_payment(&self, pool: &PgPool, office: &str) {
        let rounds = self.office(office);
        let seen = rounds.started.load(Ordering::SeqCst);
        let _running = rounds.running.lock().await;
        if rounds.started.load(Ordering::SeqCst) > seen {
            // A round began after our commit, read our row, and has finished (we hold the
            // lock it held).
            return;
        }
        rounds.started.fetch_add(1, Ordering::SeqCst);
        if let Err(error) = number_office(pool, office).await {
            tracing::warn!(office.code = office, error = %error, "receipt numbering deferred to the worker");
        }
    }
}
