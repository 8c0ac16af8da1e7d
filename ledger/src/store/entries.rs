//! Entries: posting, idempotency, reversals.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::accounts::upsert_accounts;
use crate::account::AccountCode;
use crate::entry::{BalancedEntry, EntryBuilder, EntryId};
use crate::error::LedgerError;
use crate::money::{Currency, Money};

/// Kind of the entries written by [`reverse`] and [`reversal_of`].
pub const REVERSAL_KIND: &str = "reversal";

/// Unique constraint that allows one reversal per entry (see the migration).
const REVERSED_ONCE_CONSTRAINT: &str = "ledger_entries_reverses_entry_id_key";
/// Constraint name raised by the trigger that refuses to reverse a reversal.
const NO_REVERSAL_OF_REVERSAL_CONSTRAINT: &str = "ledger_entries_no_reversal_of_reversal";
/// Constraint name raised by the trigger that refuses entries in a closed month (0005).
const PERIOD_OPEN_CONSTRAINT: &str = "ledger_entries_period_open";
/// Constraint name raised when `corrects_period` names no closed earlier month (0005).
const CORRECTS_CLOSED_PERIOD_CONSTRAINT: &str = "ledger_entries_corrects_closed_period";

/// What [`post`] did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "entry_id", rename_all = "snake_case")]
pub enum PostOutcome {
    /// The entry was written and got this id.
    Posted(EntryId),
    /// An entry with the same idempotency key exists already; nothing was written.
    AlreadyPosted(EntryId),
}

impl PostOutcome {
    /// Returns the id of the entry written now or earlier.
    pub fn entry_id(self) -> EntryId {
        match self {
            PostOutcome::Posted(id) | PostOutcome::AlreadyPosted(id) => id,
        }
    }
}

/// One stored posting with its account code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostingRow {
    /// Entry the posting belongs to.
    pub entry_id: i64,
    /// Account code.
    pub account: String,
    /// Currency of the account and amount.
    pub currency: Currency,
    /// Signed amount: debit positive, credit negative.
    pub amount_minor: i64,
    /// Time of the entry (every posting of an entry carries its entry's time).
    pub created_at: DateTime<Utc>,
}

/// Writes a balanced entry and its postings, unless its idempotency key was used before.
///
/// Accounts are created on first use. An entry marked with [`EntryBuilder::reverses`] is
/// checked against its original first. The database checks the balance again at commit, so
/// `conn` must be inside the caller's transaction: on a bare connection the entry row would
/// commit alone, before its postings, and the database refuses it.
///
/// # Errors
///
/// For a reversal: [`LedgerError::EntryNotFound`], [`LedgerError::AlreadyReversed`],
/// [`LedgerError::ReversalNotReversible`], or [`LedgerError::InvalidEntry`] when the original
/// belongs to another office. [`LedgerError::Database`] when a statement fails; a refused
/// statement aborts the caller's transaction, as always in PostgreSQL.
pub async fn post(
    conn: &mut PgConnection,
    entry: &BalancedEntry,
) -> Result<PostOutcome, LedgerError> {
    if let Some(original) = entry.reverses() {
        if let Some(existing) = check_reversal(conn, entry, original).await? {
            return Ok(PostOutcome::AlreadyPosted(existing));
        }
    }
    insert(conn, entry).await
}

/// Posts the mirror image of entry `original`, referencing it, under the kind `reversal`.
///
/// # Errors
///
/// [`LedgerError::EntryNotFound`] for an unknown id, [`LedgerError::AlreadyReversed`] when the
/// entry has a reversal already, [`LedgerError::ReversalNotReversible`] when the entry is itself
/// a reversal, [`LedgerError::InvalidEntry`] for a blank description, and
/// [`LedgerError::Database`] when a statement fails. A repeated call with the same idempotency
/// key returns [`PostOutcome::AlreadyPosted`] instead of an error.
pub async fn reverse(
    conn: &mut PgConnection,
    original: EntryId,
    description: &str,
    idempotency_key: Option<String>,
) -> Result<PostOutcome, LedgerError> {
    // The key is looked up first so that a retried reversal is a no-op, not AlreadyReversed.
    if let Some(key) = idempotency_key.as_deref() {
        if let Some(existing) = find_entry_by_key(conn, key).await? {
            return Ok(PostOutcome::AlreadyPosted(existing));
        }
    }
    let builder = reversal_of(conn, original, description).await?;
    let builder = match idempotency_key {
        Some(key) => builder.idempotency_key(key),
        None => builder,
    };
    insert(conn, &builder.build()?).await
}

/// Prepares the reversal of entry `original` so the caller can add a key or metadata before
/// calling [`post`]; [`reverse`] is the shortcut.
///
/// The builder has the original's office, kind [`REVERSAL_KIND`], every posting mirrored and
/// metadata `{"reversed_kind": <original kind>}`.
///
/// # Errors
///
/// [`LedgerError::EntryNotFound`], [`LedgerError::AlreadyReversed`],
/// [`LedgerError::ReversalNotReversible`], [`LedgerError::InvalidAccountCode`] for a stored code
/// this version cannot read, [`LedgerError::Money`] on overflow, [`LedgerError::Database`].
pub async fn reversal_of(
    conn: &mut PgConnection,
    original: EntryId,
    description: &str,
) -> Result<EntryBuilder, LedgerError> {
    // language=PostgreSQL
    let head: Option<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "select e.office_code, e.kind, e.reverses_entry_id,
                (select r.id from ledger_entries r where r.reverses_entry_id = e.id)
         from ledger_entries e
         where e.id = $1",
    )
    .bind(original.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((office_code, kind, reverses, reversed_by)) = head else {
        return Err(LedgerError::EntryNotFound(original));
    };
    if reverses.is_some() {
        return Err(LedgerError::ReversalNotReversible(original));
    }
    if reversed_by.is_some() {
        return Err(LedgerError::AlreadyReversed(original));
    }
    let mut builder = EntryBuilder::new(&office_code, REVERSAL_KIND, description)
        .reverses(original)
        .metadata(serde_json::json!({ "reversed_kind": kind }));
    for row in entry_postings(conn, original).await? {
        let account = AccountCode::parse(&row.account)?;
        let mirrored = Money::from_minor(row.amount_minor, row.currency).negated()?;
        builder = if mirrored.is_positive() {
            builder.debit(account, mirrored)
        } else {
            builder.credit(account, mirrored.negated()?)
        };
    }
    Ok(builder)
}

/// Returns the id of the entry posted under `key`, if any.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn find_entry_by_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<EntryId>, LedgerError> {
    // language=PostgreSQL
    let id: Option<i64> =
        sqlx::query_scalar("select id from ledger_entries where idempotency_key = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(id.map(EntryId))
}

/// Counts the entries posted under `key` (0 or 1, since keys are unique).
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn count_entries_with_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<i64, LedgerError> {
    // language=PostgreSQL
    let count =
        sqlx::query_scalar("select count(*) from ledger_entries where idempotency_key = $1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(count)
}

/// Returns the postings of one entry in the order they were written.
///
/// # Errors
///
/// [`LedgerError::EntryNotFound`] when no posting belongs to the entry (a committed entry
/// always has at least two), [`LedgerError::Database`] when the query fails.
pub async fn entry_postings(
    conn: &mut PgConnection,
    entry: EntryId,
) -> Result<Vec<PostingRow>, LedgerError> {
    // language=PostgreSQL
    let rows: Vec<(i64, String, String, i64, DateTime<Utc>)> = sqlx::query_as(
        "select p.entry_id, a.code, p.currency::text, p.amount_minor, p.created_at
         from ledger_postings p
         join ledger_accounts a on a.id = p.account_id
         where p.entry_id = $1
         order by p.id",
    )
    .bind(entry.0)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Err(LedgerError::EntryNotFound(entry));
    }
    rows.into_iter()
        .map(|(entry_id, account, currency, amount_minor, created_at)| {
            Ok(PostingRow {
                entry_id,
                account,
                currency: Currency::from_str(&currency)?,
                amount_minor,
                created_at,
            })
        })
        .collect()
}

/// Checks a reversal posted through [`post`] against its original; returns the existing entry
/// when the idempotency key was used already.
async fn check_reversal(
    conn: &mut PgConnection,
    entry: &BalancedEntry,
    original: EntryId,
) -> Result<Option<EntryId>, LedgerError> {
    // One round trip answers every question; the left join keeps the row when the original
    // does not exist, so the key lookup still comes back.
    // language=PostgreSQL
    let (existing, office_code, reverses, reversed_by): (
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<i64>,
    ) = sqlx::query_as(
        "select (select k.id from ledger_entries k where k.idempotency_key = $2),
                e.office_code,
                e.reverses_entry_id,
                (select r.id from ledger_entries r where r.reverses_entry_id = $1)
         from (values (1)) as one (x)
         left join ledger_entries e on e.id = $1",
    )
    .bind(original.0)
    .bind(entry.idempotency_key())
    .fetch_one(&mut *conn)
    .await?;
    if let Some(existing) = existing {
        return Ok(Some(EntryId(existing)));
    }
    let Some(office_code) = office_code else {
        return Err(LedgerError::EntryNotFound(original));
    };
    if reverses.is_some() {
        return Err(LedgerError::ReversalNotReversible(original));
    }
    if reversed_by.is_some() {
        return Err(LedgerError::AlreadyReversed(original));
    }
    if office_code != entry.office_code() {
        return Err(LedgerError::InvalidEntry(format!(
            "entry {original} belongs to office {office_code}; its reversal must too"
        )));
    }
    Ok(None)
}

/// Writes the entry row, then (only when it is new) its accounts and postings: three round
/// trips whatever the number of lines.
async fn insert(
    conn: &mut PgConnection,
    entry: &BalancedEntry,
) -> Result<PostOutcome, LedgerError> {
    // language=PostgreSQL
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into ledger_entries (office_code, kind, description, idempotency_key, reverses_entry_id, metadata, corrects_period)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (idempotency_key) do nothing
         returning id",
    )
    .bind(entry.office_code())
    .bind(entry.kind())
    .bind(entry.description())
    .bind(entry.idempotency_key())
    .bind(entry.reverses().map(|id| id.0))
    .bind(entry.metadata())
    .bind(entry.corrects_period())
    .fetch_optional(&mut *conn)
    .await
    .map_err(|error| reversal_error(error, entry))?;
    let Some(id) = inserted else {
        // Only a key can conflict: rows without a key never collide on a unique index.
        let existing = match entry.idempotency_key() {
            Some(key) => find_entry_by_key(conn, key).await?,
            None => None,
        };
        return existing
            .map(PostOutcome::AlreadyPosted)
            .ok_or(LedgerError::Database(sqlx::Error::RowNotFound));
    };
    upsert_accounts(conn, entry.postings()).await?;
    let codes: Vec<&str> = entry
        .postings()
        .iter()
        .map(|posting| posting.account().as_str())
        .collect();
    let currencies: Vec<&str> = entry
        .postings()
        .iter()
        .map(|posting| posting.amount().currency().code())
        .collect();
    let amounts: Vec<i64> = entry
        .postings()
        .iter()
        .map(|posting| posting.amount().amount_minor())
        .collect();
    // Postings take office and time from the database rows (the before-insert trigger sets the
    // time to the entry's), so nothing here can disagree with them.
    // language=PostgreSQL
    let written = sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor)
         select $1, a.id, a.currency, a.office_code, line.amount_minor
         from unnest($2::text[], $3::text[], $4::bigint[]) with ordinality as line (code, currency, amount_minor, position)
         join ledger_accounts a on a.code = line.code and a.currency = line.currency
         order by line.position",
    )
    .bind(id)
    .bind(&codes)
    .bind(&currencies)
    .bind(&amounts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if usize::try_from(written).ok() != Some(amounts.len()) {
        // Accounts were upserted just above and are never deleted, so this is unreachable
        // unless the schema changed under us; refuse rather than post a partial entry.
        return Err(LedgerError::Database(sqlx::Error::RowNotFound));
    }
    Ok(PostOutcome::Posted(EntryId(id)))
}

/// Turns the database's refusals into typed errors: a second reversal (a concurrent transaction
/// reversed the same entry between our check and our insert), a closed month, a correction
/// that names no closed month.
fn reversal_error(error: sqlx::Error, entry: &BalancedEntry) -> LedgerError {
    if let (sqlx::Error::Database(database_error), Some(original)) = (&error, entry.reverses()) {
        match database_error.constraint() {
            Some(REVERSED_ONCE_CONSTRAINT) => return LedgerError::AlreadyReversed(original),
            Some(NO_REVERSAL_OF_REVERSAL_CONSTRAINT) => {
                return LedgerError::ReversalNotReversible(original)
            }
            _ => {}
        }
    }
    refusal(error)
}

/// Turns the refusals any entry can meet into typed errors: a closed month, a correction that
/// names no closed month.
pub(super) fn refusal(error: sqlx::Error) -> LedgerError {
    if let sqlx::Error::Database(database_error) = &error {
        match database_error.constraint() {
            Some(PERIOD_OPEN_CONSTRAINT) => {
                return LedgerError::PeriodClosed(database_error.message().to_owned())
            }
            Some(CORRECTS_CLOSED_PERIOD_CONSTRAINT) => {
                return LedgerError::InvalidEntry(database_error.message().to_owned())
            }
            _ => {}
        }
    }
    LedgerError::Database(error)
}
