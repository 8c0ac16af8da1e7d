//! Double-entry ledger of OWSO Pay: money, accounts, balanced entries, the database
//! invariants that keep them honest, period close, the hash chain and balances as of any time.
//!
//! # Money
//!
//! [`Money`] is a signed count of minor units plus its [`Currency`]: KHR in whole riel (scale
//! 0), USD in cents (scale 2). There are no floats, no `Add` and no `Default`; amounts come
//! from [`Money::parse`] (strict decimal strings), [`Money::from_decimal`] (refuses anything
//! that would need rounding) or [`Money::from_minor`], and combine through checked methods.
//! JSON carries `{"amount":"600000","currency":"KHR"}`.
//!
//! # Accounts
//!
//! Accounts are per office and currency. Their codes are public (auditors read them and
//! exports carry them), readable, and parsed back exactly by [`AccountCode::parse`]:
//!
//! | kind | code |
//! |---|---|
//! | bank clearing, per channel | `{office}:clearing:{channel}:{CUR}` |
//! | cash drawer | `{office}:cash:drawer:{CUR}` |
//! | settlement bank account | `{office}:bank:{account}:{CUR}` |
//! | fee revenue, per sector | `{office}:revenue:{sector}:{CUR}` |
//! | suspense | `{office}:suspense:{CUR}` |
//! | refunds payable | `{office}:refunds-payable:{CUR}` |
//! | bank fees | `{office}:bank-fees:{CUR}` |
//! | cash over/short | `{office}:cash-over-short:{CUR}` |
//! | cash in transit (deposited, not yet on the statement) | `{office}:cash-in-transit:{CUR}` |
//! | other income (written off to income after approval) | `{office}:other-income:{CUR}` |
//!
//! `{office}` is 1 to 8 ASCII letters or digits; `{channel}`, `{account}` and `{sector}` are 1
//! to 40 characters of `a-z`, `0-9`, `_` and `-`; `{CUR}` is `KHR` or `USD`. Example:
//! `0320:revenue:construction:KHR`.
//!
//! # Entries
//!
//! An [`EntryBuilder`] collects debits and credits (positive amounts) and
//! [`EntryBuilder::build`] returns a [`BalancedEntry`] only if it has two or more postings, each
//! positive, in its account's currency and office, summing to zero per currency. Postings are
//! stored signed: debit positive, credit negative. [`store::post`] writes it (at most once per
//! idempotency key); corrections are reversals ([`store::reverse`]), never edits.
//!
//! The database holds the same rules on its own (migration `0001_ledger.sql`): a deferred
//! constraint trigger refuses at commit an entry with fewer than two postings or that does not
//! balance per currency, triggers refuse UPDATE, DELETE and TRUNCATE of entries and postings,
//! and an entry can be reversed once and a reversal not at all.
//!
//! # Periods
//!
//! [`store::close_period`] closes a Cambodian calendar month (Asia/Phnom_Penh, UTC+7) of an
//! office once it is over (migration `0005_ledger_integrity.sql`). The entry trigger then
//! refuses any entry of that office dated in that month, whoever writes it. Closing takes an
//! exclusive advisory lock per office that every entry's transaction takes shared, so a close
//! waits for the office's entries in flight and none can commit into the month after it.
//! Corrections post into the open month with `corrects_period` naming the closed one
//! ([`EntryBuilder::corrects_period`]); a reversal of an entry of a closed month gets it by
//! itself. Closed months cannot be reopened.
//!
//! # Sealing
//!
//! Entries are sealed into a SHA-256 chain, off the write path, in the table `ledger_seals`
//! (`entry_id`, `seq`, `prev_hash`, `hash`, `sealed_at`); entries are never updated. For the
//! seal at position `seq` (1, 2, ...), `hash = SHA-256(prev_hash || encoding)`, with
//! `prev_hash` the previous seal's hash (32 zero bytes for `seq` 1; [`chain::chain_hash`]).
//!
//! The encoding, version 1 ([`chain::encode`]), concatenates, with integers big-endian,
//! strings as UTF-8 behind a `u64` byte length, and optional fields behind a presence byte
//! (`0` absent, `1` present):
//!
//! 1. the version byte `0x01`;
//! 2. `seq` (`i64`); the entry id (`i64`);
//! 3. office code, kind, description (strings);
//! 4. idempotency key (optional string); reversed entry id (optional `i64`);
//!    corrected month (optional string `YYYY-MM`);
//! 5. metadata (string: PostgreSQL's text of the `jsonb` value, `metadata::text`);
//! 6. entry time (`i64` microseconds since 1970-01-01 UTC);
//! 7. the number of postings (`u64`), then for each posting in posting id order: account
//!    code (string), currency (string), signed amount in minor units (`i64`).
//!
//! A new encoding gets a new version byte. The golden vector in `chain.rs` was computed
//! independently from this description.
//!
//! **Which entries are sealed, and in what order.** Entry ids come from a sequence when the
//! row is inserted, so entries commit out of id order: sealing "every visible entry after the
//! last sealed id" would skip one that commits late. Each entry records the id of its
//! transaction (`txid xid8`, set by the trigger). A sealing round reads
//! `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still running anywhere
//! in the cluster: every transaction below it has finished, committed (its entries are
//! visible now) or rolled back (they never will be). The round seals the unsealed entries
//! whose txid lies between its saved horizon and that xmin, in (txid, id) order, then moves
//! the horizon up. No entry can later appear below the horizon, so the chain never has to
//! make room for one, and [`store::verify_chain`] also reports any entry below the horizon
//! that is missing from the chain. The price: a transaction left open anywhere in the cluster
//! holds sealing back until it ends (keep `idle_in_transaction_session_timeout` set). One
//! sealer at a time: [`store::try_lock_sealer`] takes a transaction-level advisory lock, and
//! the unique `seq` and `entry_id` refuse a second chain even if a sealer skipped the lock.
//!
//! **Verification.** [`store::verify_chain`] recomputes every hash in `seq` order from the
//! entries and postings, checks each `prev_hash`, that postings carry their entry's office,
//! time and their account's currency, and names the first entry that fails. It does not need
//! the seals' hashes to be trusted: an auditor can recompute them from a journal export.
//! [`store::verify_chain_against`] also compares the chain with checkpoints: digest payloads
//! whose signatures the caller checked against public keys it was told (never keys or hashes
//! stored beside the digests), and names the digest that disagrees.
//!
//! # Daily digests
//!
//! Once a day's committed entries are sealed, the service signs a digest of the chain head
//! with Ed25519 ([`store::digest_payload`], [`store::DigestPayload::to_text`]). The signed
//! text is UTF-8, one `key value` line each, ending in `\n`:
//!
//! ```text
//! owso-pay-ledger-digest v1
//! day 2026-10-31
//! head_seq 1234
//! head_hash <64 hex digits>
//! entry_count 1234
//! account 0320:clearing:khqr:KHR 1200000
//! account 0320:revenue:labour:KHR -1200000
//! ```
//!
//! with one `account` line per account, in byte order of the code, stating its balance in
//! minor units over the sealed entries up to `head_seq`.
//!
//! # Balances
//!
//! Revenue accounts are hot, so no balance row is updated on the write path. A worker rolls
//! finished UTC days up into `ledger_daily_balances` ([`store::rollup_once`]), and the days of
//! every finished month into `ledger_monthly_balances`; a balance as of an instant is the
//! aggregates of the months before the instant's month, of its days before the instant, plus
//! the postings since
//! ([`store::trial_balance`], [`store::account_balance`], [`store::statement`]). A day is
//! rolled up only after it ended *and* every transaction that could still add a posting to it
//! has finished: the round records `pg_snapshot_xmax()` after midnight and waits until
//! `pg_snapshot_xmin()` passes it. The entry trigger assigns the transaction id before it
//! reads the clock, so an entry dated before midnight belongs to a transaction below that mark.
//!
//! ```
//! use ledger::{AccountCode, AccountKind, Currency, EntryBuilder, Money};
//!
//! # fn main() -> Result<(), ledger::LedgerError> {
//! let clearing = AccountCode::new("0320", AccountKind::Clearing { channel: "khqr".into() }, Currency::Khr)?;
//! let revenue = AccountCode::new("0320", AccountKind::Revenue { sector: "construction".into() }, Currency::Khr)?;
//! let fee = Money::parse("600000", Currency::Khr)?;
//! let entry = EntryBuilder::new("0320", "payment_confirmed", "case 0320018100 paid by KHQR")
//!     .idempotency_key("khqr:md5-of-the-payload:confirmed")
//!     .debit(clearing, fee)
//!     .credit(revenue, fee)
//!     .build()?;
//! assert_eq!(entry.postings().len(), 2);
//! // In a use case: ledger::store::post(&mut *tx, &entry).await?; then tx.commit().
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod account;
pub mod chain;
mod entry;
mod error;
pub mod group;
mod money;
pub mod store;

pub use account::{AccountCode, AccountKind, NormalBalance};
pub use entry::{BalancedEntry, EntryBuilder, EntryId, Posting};
pub use error::{LedgerError, MoneyError};
pub use group::{GroupCommitter, GroupConfig, GroupQueue};
pub use money::{Currency, Money};
pub use store::{AccountRow, PostOutcome, PostingRow, TrialBalanceLine, REVERSAL_KIND};
