//! Many entries in one transaction and a fixed number of round trips: the write half of group
//! commit ([`crate::group`]).

use std::collections::BTreeSet;

use sqlx::PgConnection;

use super::accounts::upsert_account_codes;
use super::entries::{find_entry_by_key, post, PostOutcome};
use crate::account::AccountCode;
use crate::entry::{BalancedEntry, EntryId};
use crate::error::LedgerError;

/// Writes every entry of `entries` inside the caller's transaction and returns one outcome
/// per entry, in input order.
///
/// The result is the same as calling [`post`] for each entry in turn, but plain entries take
/// three statements in all, whatever their number: the accounts of the whole batch (sorted,
/// so concurrent batches take index locks in one order), the entry rows, the posting rows.
/// Reversals are checked against their original one by one first, as [`post`] does. An
/// idempotency key used earlier, or earlier in the same batch, gives
/// [`PostOutcome::AlreadyPosted`] with the first entry's id.
///
/// # Errors
///
/// As [`post`]. Any error aborts the caller's transaction, and with it the whole batch: the
/// caller decides whether to post the entries again one by one ([`crate::group`] does).
pub async fn post_batch(
    conn: &mut PgConnection,
    entries: &[&BalancedEntry],
) -> Result<Vec<PostOutcome>, LedgerError> {
    let mut outcomes: Vec<Option<PostOutcome>> = vec![None; entries.len()];
    let mut plain: Vec<(usize, &BalancedEntry)> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        if entry.reverses().is_some() {
            // Rare, and each needs its original read; no reason to make them clever.
            if let Some(slot) = outcomes.get_mut(index) {
                *slot = Some(post(conn, entry).await?);
            }
        } else {
            plain.push((index, entry));
        }
    }
    if !plain.is_empty() {
        let written = insert_plain(conn, &plain).await?;
        for ((index, _), outcome) in plain.iter().zip(written) {
            if let Some(slot) = outcomes.get_mut(*index) {
                *slot = Some(outcome);
            }
        }
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.ok_or(LedgerError::Database(sqlx::Error::RowNotFound)))
        .collect()
}

/// Inserts the entry rows (ids drawn from the sequence in the same statement, so each input
/// row knows its id), then the postings of the rows that were new.
async fn insert_plain(
    conn: &mut PgConnection,
    entries: &[(usize, &BalancedEntry)],
) -> Result<Vec<PostOutcome>, LedgerError> {
    let accounts: BTreeSet<&AccountCode> = entries
        .iter()
        .flat_map(|(_, entry)| entry.postings().iter().map(|posting| posting.account()))
        .collect();
    upsert_account_codes(conn, accounts).await?;

    let offices: Vec<&str> = entries.iter().map(|(_, e)| e.office_code()).collect();
    let kinds: Vec<&str> = entries.iter().map(|(_, e)| e.kind()).collect();
    let descriptions: Vec<&str> = entries.iter().map(|(_, e)| e.description()).collect();
    let keys: Vec<Option<&str>> = entries.iter().map(|(_, e)| e.idempotency_key()).collect();
    let metadata: Vec<&serde_json::Value> = entries.iter().map(|(_, e)| e.metadata()).collect();
    let corrects: Vec<Option<chrono::NaiveDate>> =
        entries.iter().map(|(_, e)| e.corrects_period()).collect();
    // `input` is materialized once (it calls nextval), so its ids are the ones inserted.
    // Rows are inserted in input order, which is the order their ids were drawn in. The
    // outer select runs on the statement's snapshot: it sees a key committed before, not one
    // inserted by this statement or still in flight elsewhere; those are looked up after.
    // language=PostgreSQL
    let rows: Vec<(i64, bool, Option<i64>)> = sqlx::query_as(
        "with input as materialized (
             select nextval(pg_get_serial_sequence('ledger_entries', 'id')) as id, t.*
             from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::date[])
                  with ordinality as t (office_code, kind, description, idempotency_key, metadata, corrects_period, position)
         ),
         inserted as (
             insert into ledger_entries (id, office_code, kind, description, idempotency_key, metadata, corrects_period)
             select id, office_code, kind, description, idempotency_key, metadata, corrects_period
             from input order by position
             on conflict (idempotency_key) do nothing
             returning id
         )
         select input.id, inserted.id is not null, earlier.id
         from input
         left join inserted on inserted.id = input.id
         left join ledger_entries earlier on earlier.idempotency_key = input.idempotency_key
         order by input.position",
    )
    .bind(&offices)
    .bind(&kinds)
    .bind(&descriptions)
    .bind(&keys)
    .bind(&metadata)
    .bind(&corrects)
    .fetch_all(&mut *conn)
    .await
    .map_err(super::entries::refusal)?;
    if rows.len() != entries.len() {
        return Err(LedgerError::Database(sqlx::Error::RowNotFound));
    }

    let mut outcomes = Vec::with_capacity(entries.len());
    let mut posting_entry_ids: Vec<i64> = Vec::new();
    let mut codes: Vec<&str> = Vec::new();
    let mut currencies: Vec<&str> = Vec::new();
    let mut amounts: Vec<i64> = Vec::new();
    for ((_, entry), (id, inserted, earlier)) in entries.iter().zip(rows) {
        if inserted {
            for posting in entry.postings() {
                posting_entry_ids.push(id);
                codes.push(posting.account().as_str());
                currencies.push(posting.amount().currency().code());
                amounts.push(posting.amount().amount_minor());
            }
            outcomes.push(PostOutcome::Posted(EntryId(id)));
            continue;
        }
        // Not inserted: the key was taken before this statement, earlier in this batch, or by
        // a transaction that committed while this statement waited for it.
        let existing = match (earlier, entry.idempotency_key()) {
            (Some(earlier), _) => Some(EntryId(earlier)),
            (None, Some(key)) => find_entry_by_key(conn, key).await?,
            (None, None) => None,
        };
        outcomes.push(
            existing
                .map(PostOutcome::AlreadyPosted)
                .ok_or(LedgerError::Database(sqlx::Error::RowNotFound))?,
        );
    }
    if amounts.is_empty() {
        return Ok(outcomes);
    }
    // language=PostgreSQL
    let written = sqlx::query(
        "insert into ledger_postings (entry_id, account_id, currency, office_code, amount_minor)
         select line.entry_id, a.id, a.currency, a.office_code, line.amount_minor
         from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
              with ordinality as line (entry_id, code, currency, amount_minor, position)
         join ledger_accounts a on a.code = line.code and a.currency = line.currency
         order by line.position",
    )
    .bind(&posting_entry_ids)
    .bind(&codes)
    .bind(&currencies)
    .bind(&amounts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if usize::try_from(written).ok() != Some(amounts.len()) {
        // Accounts were upserted above and are never deleted: refuse rather than post part.
        return Err(LedgerError::Database(sqlx::Error::RowNotFound));
    }
    Ok(outcomes)
}
