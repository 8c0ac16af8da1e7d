//! The hash chain in the database: sealing rounds, verification, daily digests (crate docs,
//! "Sealing").

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt as _;
use serde::Serialize;
use sqlx::PgConnection;

use crate::chain::{chain_hash, ChainEntry, ChainPosting, GENESIS_HASH};
use crate::error::LedgerError;

/// Key of the transaction-level advisory lock that makes one sealer at a time.
const SEALER_LOCK_KEY: i64 = 0x4f57_534f_5345_414c;

/// One entry row with its postings, as both the sealer and the verifier read it.
type EntryRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<NaiveDate>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<Vec<String>>,
    Option<Vec<String>>,
    Option<Vec<i64>>,
    Option<bool>,
);

/// Columns of [`EntryRow`] for an entry `e` whose id is `$id_expression`; postings whose
/// office, time or currency differ from their entry's or account's make `consistent` false.
macro_rules! entry_columns {
    ($id:literal) => {
        concat!(
            $id,
            ", e.office_code, e.kind, e.description, e.idempotency_key, e.reverses_entry_id,
             e.corrects_period, e.metadata::text, e.created_at,
             l.codes, l.currencies, l.amounts, l.consistent"
        )
    };
}

/// The lateral join that gathers an entry's postings in write order.
macro_rules! postings_lateral {
    ($id:literal) => {
        concat!(
            "left join lateral (
                select array_agg(a.code order by p.id) as codes,
                       array_agg(p.currency::text order by p.id) as currencies,
                       array_agg(p.amount_minor order by p.id) as amounts,
                       bool_and(p.created_at = e.created_at and p.office_code = e.office_code
                                and p.currency = a.currency) as consistent
                from ledger_postings p
                join ledger_accounts a on a.id = p.account_id
                where p.entry_id = ",
            $id,
            "
             ) l on true"
        )
    };
}

/// Builds the chain view of a row; `None` when the entry row is missing.
fn chain_entry(row: EntryRow) -> Option<(ChainEntry, bool)> {
    let (
        entry_id,
        office_code,
        kind,
        description,
        idempotency_key,
        reverses_entry_id,
        corrects_period,
        metadata,
        created_at,
        codes,
        currencies,
        amounts,
        consistent,
    ) = row;
    let codes = codes.unwrap_or_default();
    let currencies = currencies.unwrap_or_default();
    let amounts = amounts.unwrap_or_default();
    let same_lengths = codes.len() == currencies.len() && codes.len() == amounts.len();
    let postings = codes
        .into_iter()
        .zip(currencies)
        .zip(amounts)
        .map(|((account, currency), amount_minor)| ChainPosting {
            account,
            currency,
            amount_minor,
        })
        .collect();
    let entry = ChainEntry {
        entry_id,
        office_code: office_code?,
        kind: kind?,
        description: description?,
        idempotency_key,
        reverses_entry_id,
        corrects_period,
        metadata: metadata?,
        created_at: created_at?,
        postings,
    };
    Some((entry, same_lengths && consistent.unwrap_or(false)))
}

fn hash_array(bytes: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).ok()
}

/// The head of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// Position of the last seal (0 when nothing is sealed).
    pub seq: i64,
    /// Hash of the last seal, hex ([`GENESIS_HASH`] when nothing is sealed).
    pub hash: String,
}

/// Takes the sealer's lock for the caller's transaction; `false` when another sealer holds it
/// (the caller then skips its round).
///
/// # Errors
///
/// [`LedgerError::Database`] when the statement fails.
pub async fn try_lock_sealer(conn: &mut PgConnection) -> Result<bool, LedgerError> {
    // language=PostgreSQL
    let locked = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(SEALER_LOCK_KEY)
        .fetch_one(&mut *conn)
        .await?;
    Ok(locked)
}

/// Returns the current head of the chain.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn chain_head(conn: &mut PgConnection) -> Result<ChainHead, LedgerError> {
    let (seq, hash) = head(conn).await?;
    Ok(ChainHead {
        seq,
        hash: hex::encode(hash),
    })
}

async fn head(conn: &mut PgConnection) -> Result<(i64, [u8; 32]), LedgerError> {
    // language=PostgreSQL
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("select seq, hash from ledger_seals order by seq desc limit 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match row {
        None => (0, GENESIS_HASH),
        Some((seq, hash)) => (
            seq,
            hash_array(&hash).ok_or(LedgerError::Database(sqlx::Error::RowNotFound))?,
        ),
    })
}

/// Seals up to `max_entries` entries whose transactions are finished, in (txid, id) order,
/// and returns how many it sealed.
///
/// Call it in a transaction that holds [`try_lock_sealer`]; commit to publish the seals.
/// An entry is sealed only once its transaction id is below `pg_snapshot_xmin()`, so that
/// nothing can commit behind the chain's head (crate docs, "Sealing").
///
/// # Errors
///
/// [`LedgerError::Database`] when a statement fails (including a second sealer that
/// bypassed the lock: the unique seq and entry id refuse its rows).
pub async fn seal_pending(conn: &mut PgConnection, max_entries: i64) -> Result<usize, LedgerError> {
    // Taken before this transaction writes anything, so it has no xid of its own yet.
    // language=PostgreSQL
    let (horizon, finished_below): (String, String) = sqlx::query_as(
        "select horizon::text, pg_snapshot_xmin(pg_current_snapshot())::text
         from ledger_seal_state for update",
    )
    .fetch_one(&mut *conn)
    .await?;
    let sql = concat!(
        "select ",
        entry_columns!("e.id"),
        ", e.txid::text
         from ledger_entries e ",
        postings_lateral!("e.id"),
        "
         where e.txid >= $1::xid8 and e.txid < $2::xid8
           and not exists (select 1 from ledger_seals s where s.entry_id = e.id)
         order by e.txid, e.id
         limit $3"
    );
    let rows: Vec<(EntryRow, String)> = sqlx::query_as::<_, EntryRowWithTxid>(sql)
        .bind(&horizon)
        .bind(&finished_below)
        .bind(max_entries)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(EntryRowWithTxid::split)
        .collect();
    let (mut seq, mut prev) = head(conn).await?;
    let mut entry_ids = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    let mut prev_hashes = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    let mut last_txid = None;
    for (row, txid) in rows {
        let Some((entry, _)) = chain_entry(row) else {
            continue;
        };
        seq = seq
            .checked_add(1)
            .ok_or(LedgerError::Database(sqlx::Error::RowNotFound))?;
        let hash = chain_hash(&prev, seq, &entry);
        entry_ids.push(entry.entry_id);
        seqs.push(seq);
        prev_hashes.push(prev.to_vec());
        hashes.push(hash.to_vec());
        prev = hash;
        last_txid = Some(txid);
    }
    let sealed = entry_ids.len();
    if sealed > 0 {
        // language=PostgreSQL
        sqlx::query(
            "insert into ledger_seals (entry_id, seq, prev_hash, hash)
             select * from unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])",
        )
        .bind(&entry_ids)
        .bind(&seqs)
        .bind(&prev_hashes)
        .bind(&hashes)
        .execute(&mut *conn)
        .await?;
    }
    // A full batch may have left entries of its last transaction id unsealed: the horizon
    // stops there and the next round's anti-join skips what is sealed already.
    let batch_full = i64::try_from(sealed).is_ok_and(|count| count >= max_entries);
    let new_horizon = match (batch_full, last_txid) {
        (true, Some(txid)) => txid,
        _ => finished_below,
    };
    // language=PostgreSQL
    sqlx::query("update ledger_seal_state set horizon = $1::xid8")
        .bind(&new_horizon)
        .execute(&mut *conn)
        .await?;
    Ok(sealed)
}

/// [`EntryRow`] plus the entry's txid, decoded from one row.
struct EntryRowWithTxid(EntryRow, String);

impl EntryRowWithTxid {
    fn split(self) -> (EntryRow, String) {
        (self.0, self.1)
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for EntryRowWithTxid {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        let entry = <EntryRow as sqlx::FromRow<'r, sqlx::postgres::PgRow>>::from_row(row)?;
        Ok(EntryRowWithTxid(entry, row.try_get(13)?))
    }
}

/// The outcome of [`verify_chain`] and [`verify_chain_against`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// True when every seal recomputes, links to the previous one, every trusted checkpoint
    /// agrees with the chain, and every finished entry is sealed.
    pub ok: bool,
    /// Seals recomputed before the first problem (all of them when `ok`).
    pub entries_checked: i64,
    /// The first entry that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_entry: Option<i64>,
    /// The day of the first signed digest that disagrees with the recomputed chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_digest: Option<NaiveDate>,
    /// Why that entry (or digest) does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Position of the last seal.
    pub head_seq: i64,
    /// Hash of the last seal, hex.
    pub head_hash: String,
    /// Daily balance rows (`ledger_daily_balances`) recomputed from their postings.
    pub rollup_rows_checked: i64,
    /// Monthly balance rows (`ledger_monthly_balances`) recomputed from their days.
    pub monthly_rows_checked: i64,
    /// The first daily balance, by day then account code, that differs from its postings
    /// (or a rolled-up day whose postings have no row): `(account code, day)`; or else the
    /// first monthly balance that differs from its days: `(account code, first of the month)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad_rollup: Option<(String, NaiveDate)>,
}

/// [`verify_chain_against`] with no checkpoints: the chain alone, from genesis.
///
/// # Errors
///
/// [`LedgerError::Database`] when a query fails.
pub async fn verify_chain(conn: &mut PgConnection) -> Result<VerifyReport, LedgerError> {
    verify_chain_against(conn, &[]).await
}

/// Recomputes the whole chain from genesis out of the entries and postings, in seal order,
/// and names the first entry that does not match; compares each checkpoint (a digest payload
/// whose signature the caller has checked against keys it trusts) with the recomputed chain
/// at its `head_seq`: head hash, entry count and every account's balance; and checks that no
/// finished entry was left out of the chain.
///
/// Nothing stored beside the chain is trusted: the `head_hash` columns of `ledger_digests`
/// are not read, only the signed payloads the caller passes.
///
/// Call it inside a `repeatable read` transaction so that seals, entries and the sealer's
/// horizon are read from one snapshot. Rows are streamed: memory grows with the number of
/// accounts, not with the ledger.
///
/// # Errors
///
/// [`LedgerError::Database`] when a query fails.
pub async fn verify_chain_against(
    conn: &mut PgConnection,
    checkpoints: &[DigestPayload],
) -> Result<VerifyReport, LedgerError> {
    verify_chain_against_with_progress(conn, checkpoints, i64::MAX, &mut |_| {}).await
}

/// How many seals a verification walks between two calls of its progress callback by default.
pub const VERIFY_PROGRESS_EVERY: i64 = 5_000;

/// The number of seals in the chain: what a verification will walk, for a progress bar.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn chain_length(conn: &mut PgConnection) -> Result<i64, LedgerError> {
    Ok(head(conn).await?.0)
}

/// [`verify_chain_against`], calling `on_progress(entries_checked)` after every `every`
/// seals walked (and once at the end of the walk), so that a long run can report how far it
/// is. The callback is synchronous and must be quick: it runs between two rows of the stream
/// (send the count to a channel rather than write it to the database from inside it). The
/// report is exactly that of [`verify_chain_against`].
///
/// # Errors
///
/// [`LedgerError::Database`] when a query fails.
pub async fn verify_chain_against_with_progress(
    conn: &mut PgConnection,
    checkpoints: &[DigestPayload],
    every: i64,
    on_progress: &mut (dyn FnMut(i64) + Send),
) -> Result<VerifyReport, LedgerError> {
    let every = every.max(1);
    let mut by_seq: BTreeMap<i64, Vec<&DigestPayload>> = BTreeMap::new();
    for checkpoint in checkpoints {
        by_seq
            .entry(checkpoint.head_seq)
            .or_default()
            .push(checkpoint);
    }
    let (head_seq, head_hash) = head(conn).await?;
    let mut report = VerifyReport {
        ok: true,
        entries_checked: 0,
        first_bad_entry: None,
        bad_digest: None,
        reason: None,
        head_seq,
        head_hash: hex::encode(head_hash),
        rollup_rows_checked: 0,
        monthly_rows_checked: 0,
        first_bad_rollup: None,
    };
    // Balances per account code over the seals walked so far (BTreeMap: byte order, as the
    // digest lists them).
    let mut balances: BTreeMap<String, i64> = BTreeMap::new();
    for checkpoint in by_seq.get(&0).into_iter().flatten() {
        if let Some(reason) = checkpoint_disagrees(checkpoint, &GENESIS_HASH, &balances) {
            report.ok = false;
            report.bad_digest = Some(checkpoint.day);
            report.reason = Some(reason);
            return Ok(report);
        }
    }
    let sql = concat!(
        "select s.seq, s.prev_hash, s.hash, ",
        entry_columns!("s.entry_id"),
        " from ledger_seals s
         left join ledger_entries e on e.id = s.entry_id ",
        postings_lateral!("s.entry_id"),
        " order by s.seq"
    );
    let mut rows = sqlx::query_as::<_, SealRow>(sql).fetch(&mut *conn);
    let mut expected_seq: i64 = 1;
    let mut prev = GENESIS_HASH;
    while let Some(SealRow(seq, stored_prev, stored_hash, row)) = rows.try_next().await? {
        let entry_id = row.0;
        let entry = chain_entry(row);
        if let Some(reason) = check_seal(
            (seq, expected_seq),
            &prev,
            (&stored_prev, &stored_hash),
            entry.as_ref(),
        ) {
            report.ok = false;
            report.first_bad_entry = Some(entry_id);
            report.reason = Some(reason);
            return Ok(report);
        }
        prev = hash_array(&stored_hash).unwrap_or(GENESIS_HASH);
        for posting in entry.iter().flat_map(|(entry, _)| &entry.postings) {
            let balance = balances.entry(posting.account.clone()).or_insert(0);
            // An overflow cannot match any signed balance; saturate and let the comparison fail.
            *balance = balance.saturating_add(posting.amount_minor);
        }
        for checkpoint in by_seq.get(&seq).into_iter().flatten() {
            if let Some(reason) = checkpoint_disagrees(checkpoint, &prev, &balances) {
                report.ok = false;
                report.first_bad_entry = Some(entry_id);
                report.bad_digest = Some(checkpoint.day);
                report.reason = Some(reason);
                return Ok(report);
            }
        }
        expected_seq = expected_seq.saturating_add(1);
        report.entries_checked = report.entries_checked.saturating_add(1);
        if report.entries_checked % every == 0 {
            on_progress(report.entries_checked);
        }
    }
    drop(rows);
    on_progress(report.entries_checked);
    if let Some((_, beyond)) = by_seq.range(expected_seq..).next() {
        if let Some(checkpoint) = beyond.first() {
            report.ok = false;
            report.bad_digest = Some(checkpoint.day);
            report.reason = Some(format!(
                "the signed digest of {} covers seal {}, beyond the chain's last seal {}",
                checkpoint.day,
                checkpoint.head_seq,
                expected_seq.saturating_sub(1)
            ));
            return Ok(report);
        }
    }
    // Finished entries (txid below the horizon) must all be in the chain: one missing means a
    // seal row was removed, or an entry was written behind the sealer's back.
    // language=PostgreSQL
    let unsealed: Option<i64> = sqlx::query_scalar(
        "select min(e.id) from ledger_entries e
         where e.txid < (select horizon from ledger_seal_state)
           and not exists (select 1 from ledger_seals s where s.entry_id = e.id)",
    )
    .fetch_one(&mut *conn)
    .await?;
    if let Some(entry_id) = unsealed {
        report.ok = false;
        report.first_bad_entry = Some(entry_id);
        report.reason = Some("finished entry is missing from the chain".to_owned());
        return Ok(report);
    }
    verify_rollups(conn, &mut report).await?;
    Ok(report)
}

/// Why a signed checkpoint disagrees with the chain recomputed up to its `head_seq`.
fn checkpoint_disagrees(
    checkpoint: &DigestPayload,
    head_hash: &[u8; 32],
    balances: &BTreeMap<String, i64>,
) -> Option<String> {
    let day = checkpoint.day;
    if checkpoint.head_hash != hex::encode(head_hash) {
        return Some(format!(
            "the signed digest of {day} states head hash {} at seal {}, the chain has {}",
            checkpoint.head_hash,
            checkpoint.head_seq,
            hex::encode(head_hash)
        ));
    }
    if checkpoint.entry_count != checkpoint.head_seq {
        return Some(format!(
            "the signed digest of {day} states {} entries up to seal {}",
            checkpoint.entry_count, checkpoint.head_seq
        ));
    }
    let signed = checkpoint
        .accounts
        .iter()
        .map(|(account, balance)| (account.as_str(), *balance));
    let chain = balances
        .iter()
        .map(|(account, balance)| (account.as_str(), *balance));
    if !signed.eq(chain) {
        let differing = checkpoint
            .accounts
            .iter()
            .find(|(account, balance)| balances.get(account) != Some(balance))
            .map(|(account, _)| account.clone())
            .or_else(|| {
                balances
                    .keys()
                    .find(|account| !checkpoint.accounts.iter().any(|(a, _)| a == *account))
                    .cloned()
            })
            .unwrap_or_default();
        return Some(format!(
            "the signed digest of {day} states balances that differ from the chain (account {differing})"
        ));
    }
    None
}

/// Recomputes every rolled-up day from the postings and compares it with the stored daily
/// balances: balances as of an instant read those rows, so a wrong row would be a wrong
/// balance that the chain alone cannot reveal.
async fn verify_rollups(
    conn: &mut PgConnection,
    report: &mut VerifyReport,
) -> Result<(), LedgerError> {
    // language=PostgreSQL
    let checked: i64 = sqlx::query_scalar("select count(*) from ledger_daily_balances")
        .fetch_one(&mut *conn)
        .await?;
    // language=PostgreSQL
    let first_bad: Option<(String, NaiveDate)> = sqlx::query_as(
            "with rolled as (
                 select coalesce((select next_day from ledger_rollup_state), '-infinity'::date) as next_day
             ),
             actual as (
                 select p.account_id, (p.created_at at time zone 'UTC')::date as day,
                        coalesce(sum(p.amount_minor) filter (where p.amount_minor > 0), 0) as debit,
                        coalesce(-sum(p.amount_minor) filter (where p.amount_minor < 0), 0) as credit,
                        count(*) as n
                 from ledger_postings p, rolled
                 where p.created_at < rolled.next_day::timestamp at time zone 'UTC'
                 group by 1, 2
             )
             select a.code, coalesce(d.day, x.day)
             from actual x
             full join ledger_daily_balances d on d.account_id = x.account_id and d.day = x.day
             join ledger_accounts a on a.id = coalesce(d.account_id, x.account_id)
             where (d.debit_minor, d.credit_minor, d.balance_minor, d.posting_count)
                   is distinct from (x.debit, x.credit, x.debit - x.credit, x.n)
             order by 2, 1
             limit 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    report.rollup_rows_checked = checked;
    if let Some((account, day)) = first_bad {
        report.ok = false;
        report.reason = Some(format!(
            "the daily balance of {account} on {day} differs from its postings"
        ));
        report.first_bad_rollup = Some((account, day));
        return Ok(());
    }
    verify_monthly_rollups(conn, report).await
}

/// Recomputes every aggregated month from its daily rows (which [`verify_rollups`] has just
/// checked against the postings) and compares it with `ledger_monthly_balances`, which
/// balances read for whole months.
async fn verify_monthly_rollups(
    conn: &mut PgConnection,
    report: &mut VerifyReport,
) -> Result<(), LedgerError> {
    // language=PostgreSQL
    let checked: i64 = sqlx::query_scalar("select count(*) from ledger_monthly_balances")
        .fetch_one(&mut *conn)
        .await?;
    // language=PostgreSQL
    let first_bad: Option<(String, NaiveDate)> = sqlx::query_as(
        "with rolled as (
             select coalesce((select next_month from ledger_rollup_state), '-infinity'::date) as next_month
         ),
         actual as (
             select d.account_id, date_trunc('month', d.day)::date as month,
                    sum(d.debit_minor) as debit, sum(d.credit_minor) as credit,
                    sum(d.posting_count) as n
             from ledger_daily_balances d, rolled
             where d.day < rolled.next_month
             group by 1, 2
         )
         select a.code, coalesce(m.month, x.month)
         from actual x
         full join ledger_monthly_balances m on m.account_id = x.account_id and m.month = x.month
         join ledger_accounts a on a.id = coalesce(m.account_id, x.account_id)
         where (m.debit_minor, m.credit_minor, m.balance_minor, m.posting_count)
               is distinct from (x.debit, x.credit, x.debit - x.credit, x.n)
         order by 2, 1
         limit 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    report.monthly_rows_checked = checked;
    if let Some((account, month)) = first_bad {
        report.ok = false;
        report.reason = Some(format!(
            "the monthly balance of {account} for the month of {month} differs from its daily balances"
        ));
        report.first_bad_rollup = Some((account, month));
    }
    Ok(())
}

/// Checks one seal; returns why it is bad.
fn check_seal(
    (seq, expected_seq): (i64, i64),
    prev: &[u8; 32],
    (stored_prev, stored_hash): (&[u8], &[u8]),
    entry: Option<&(ChainEntry, bool)>,
) -> Option<String> {
    if seq != expected_seq {
        return Some(format!("seal {expected_seq} is missing before seal {seq}"));
    }
    if stored_prev != prev.as_slice() {
        return Some("prev_hash does not match the previous seal".to_owned());
    }
    let Some((entry, consistent)) = entry else {
        return Some("sealed entry is missing".to_owned());
    };
    if !consistent {
        return Some("a posting's office, time or currency differs from its entry's".to_owned());
    }
    if chain_hash(prev, seq, entry).as_slice() != stored_hash {
        return Some("entry or postings changed since they were sealed".to_owned());
    }
    None
}

/// A seal row with its entry.
struct SealRow(i64, Vec<u8>, Vec<u8>, EntryRow);

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for SealRow {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        let entry: EntryRow = (
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
            row.try_get(9)?,
            row.try_get(10)?,
            row.try_get(11)?,
            row.try_get(12)?,
            row.try_get(13)?,
            row.try_get(14)?,
            row.try_get(15)?,
        );
        Ok(SealRow(
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            entry,
        ))
    }
}

/// What a daily digest states: the chain head and every account's balance over the sealed
/// entries up to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestPayload {
    /// The Cambodian calendar day the digest closes.
    pub day: NaiveDate,
    /// Position of the chain head the digest covers.
    pub head_seq: i64,
    /// Hash of that head, hex.
    pub head_hash: String,
    /// Number of sealed entries up to the head.
    pub entry_count: i64,
    /// (account code, balance in minor units) over those entries, in byte order of the code.
    pub accounts: Vec<(String, i64)>,
}

impl DigestPayload {
    /// Reads a signed text back ([`DigestPayload::to_text`] is its exact inverse).
    ///
    /// # Errors
    ///
    /// [`LedgerError::InvalidEntry`] naming the first line that is not of the format.
    pub fn parse(text: &str) -> Result<DigestPayload, LedgerError> {
        let bad = |what: &str| LedgerError::InvalidEntry(format!("digest payload: {what}"));
        let mut lines = text.split_terminator('\n');
        if lines.next() != Some("owso-pay-ledger-digest v1") {
            return Err(bad("not an owso-pay-ledger-digest v1"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("expected the {name} line")))
        };
        let day = field("day")?
            .parse::<NaiveDate>()
            .map_err(|_| bad("day is not a date"))?;
        let head_seq = field("head_seq")?
            .parse::<i64>()
            .map_err(|_| bad("head_seq is not a number"))?;
        let head_hash = field("head_hash")?;
        let entry_count = field("entry_count")?
            .parse::<i64>()
            .map_err(|_| bad("entry_count is not a number"))?;
        let mut accounts = Vec::new();
        for line in lines {
            let (account, balance) = line
                .strip_prefix("account ")
                .and_then(|rest| rest.rsplit_once(' '))
                .ok_or_else(|| bad("expected an account line"))?;
            let balance = balance
                .parse::<i64>()
                .map_err(|_| bad("an account balance is not a number"))?;
            accounts.push((account.to_owned(), balance));
        }
        let payload = DigestPayload {
            day,
            head_seq,
            head_hash,
            entry_count,
            accounts,
        };
        // Anything the format does not produce (a missing final newline, spaces, order) is
        // refused, so one text has one meaning.
        if payload.to_text() != text {
            return Err(bad("not in canonical form"));
        }
        Ok(payload)
    }

    /// Returns the exact text that is signed (crate docs, "Daily digests").
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "owso-pay-ledger-digest v1\nday {}\nhead_seq {}\nhead_hash {}\nentry_count {}\n",
            self.day, self.head_seq, self.head_hash, self.entry_count
        );
        for (account, balance_minor) in &self.accounts {
            text.push_str(&format!("account {account} {balance_minor}\n"));
        }
        text
    }
}

/// Gathers the digest of `day` at the current chain head.
///
/// # Errors
///
/// [`LedgerError::Database`] when a query fails.
pub async fn digest_payload(
    conn: &mut PgConnection,
    day: NaiveDate,
) -> Result<DigestPayload, LedgerError> {
    let (head_seq, head_hash) = head(conn).await?;
    // language=PostgreSQL
    let accounts: Vec<(String, i64)> = sqlx::query_as(
        "select a.code, sum(p.amount_minor)::bigint
         from ledger_seals s
         join ledger_postings p on p.entry_id = s.entry_id
         join ledger_accounts a on a.id = p.account_id
         where s.seq <= $1
         group by a.code
         order by a.code collate \"C\"",
    )
    .bind(head_seq)
    .fetch_all(&mut *conn)
    .await?;
    Ok(DigestPayload {
        day,
        head_seq,
        head_hash: hex::encode(head_hash),
        entry_count: head_seq,
        accounts,
    })
}

/// Tells whether every committed entry created before `before` is sealed: a digest waits for
/// that, so that the digest of a day covers every entry of the day that had committed.
///
/// Unsealed entries all have a txid at or above the sealer's horizon, so only that small
/// range is read.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn sealed_before(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
) -> Result<bool, LedgerError> {
    // language=PostgreSQL
    let pending: bool = sqlx::query_scalar(
        "select exists (
             select 1 from ledger_entries e
             where e.txid >= (select horizon from ledger_seal_state)
               and e.created_at < $1
               and not exists (select 1 from ledger_seals s where s.entry_id = e.id))",
    )
    .bind(before)
    .fetch_one(&mut *conn)
    .await?;
    Ok(!pending)
}

/// Tells whether the digest of `day` exists.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn has_digest(conn: &mut PgConnection, day: NaiveDate) -> Result<bool, LedgerError> {
    // language=PostgreSQL
    let exists = sqlx::query_scalar("select exists (select 1 from ledger_digests where day = $1)")
        .bind(day)
        .fetch_one(&mut *conn)
        .await?;
    Ok(exists)
}

/// Stores a signed digest; `false` when the day has one already (another instance won).
///
/// # Errors
///
/// [`LedgerError::InvalidEntry`] for a head hash that is not 64 hex digits,
/// [`LedgerError::Database`] when the statement fails.
pub async fn insert_digest(
    conn: &mut PgConnection,
    payload: &DigestPayload,
    signature: &[u8; 64],
    public_key: &[u8; 32],
) -> Result<bool, LedgerError> {
    let head_hash = hex::decode(&payload.head_hash)
        .map_err(|_| LedgerError::InvalidEntry("head hash is not hex".to_owned()))?;
    // language=PostgreSQL
    let inserted = sqlx::query(
        "insert into ledger_digests (day, head_seq, head_hash, entry_count, payload, signature, public_key)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (day) do nothing",
    )
    .bind(payload.day)
    .bind(payload.head_seq)
    .bind(head_hash)
    .bind(payload.entry_count)
    .bind(payload.to_text())
    .bind(signature.as_slice())
    .bind(public_key.as_slice())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// One stored digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DigestRow {
    /// Day the digest closes.
    pub day: NaiveDate,
    /// Chain position it covers.
    pub head_seq: i64,
    /// Hash of that position, hex.
    pub head_hash: String,
    /// Sealed entries up to the head.
    pub entry_count: i64,
    /// The signed text.
    pub payload: String,
    /// Ed25519 signature of `payload`'s UTF-8 bytes (64 bytes).
    pub signature: Vec<u8>,
    /// Ed25519 public key that signed it (32 bytes).
    pub public_key: Vec<u8>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Returns the latest `limit` digests, newest first.
///
/// # Errors
///
/// [`LedgerError::Database`] when the query fails.
pub async fn list_digests(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<DigestRow>, LedgerError> {
    // language=PostgreSQL
    let rows = sqlx::query_as::<_, DigestRow>(
        "select day, head_seq, encode(head_hash, 'hex') as head_hash, entry_count, payload,
                signature, public_key, created_at
         from ledger_digests order by day desc limit $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn payload() -> DigestPayload {
        DigestPayload {
            day: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            head_seq: 2,
            head_hash: "ab".repeat(32),
            entry_count: 2,
            accounts: vec![
                ("0320:clearing:sandbox:KHR".to_owned(), 1_200_000),
                ("0320:revenue:labour:KHR".to_owned(), -1_200_000),
            ],
        }
    }

    #[test]
    fn a_digest_payload_reads_back_exactly() {
        let text = payload().to_text();
        assert_eq!(DigestPayload::parse(&text).unwrap(), payload());
        let empty = DigestPayload {
            accounts: Vec::new(),
            ..payload()
        };
        assert_eq!(DigestPayload::parse(&empty.to_text()).unwrap(), empty);
    }

    #[test]
    fn a_digest_payload_in_another_form_is_refused() {
        let text = payload().to_text();
        for bad in [
            text.trim_end().to_owned(),
            text.replace("head_seq 2", "head_seq  2"),
            text.replace("v1", "v2"),
            text.replace("account 0320:revenue:labour:KHR -1200000", "account x"),
            format!("{text}\n"),
        ] {
            assert!(DigestPayload::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
