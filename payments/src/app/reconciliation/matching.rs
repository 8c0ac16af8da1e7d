//! Matching statement lines to ledger items: a pure function, so it can be property-tested
//! and benchmarked without a database.
//!
//! A ledger item is money the ledger says is on its way to (or from) the bank: an online
//! payment or a suspense arrival in clearing, a cash deposit in transit, a refund payable.
//! A statement line is what the bank says moved. The function pairs them; it never pairs a
//! line or an item twice.

use chrono::NaiveDate;

/// Which way money moves through the bank account: in (`Credit`, CRDT) or out (`Debit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Money into the bank account.
    In,
    /// Money out of the bank account.
    Out,
}

/// What kind of ledger item this is, which decides the keys it is matched by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// Money a channel owes the office (a payment or a suspense arrival): matched by the
    /// bank's transaction id, KHQR md5 or bill number.
    Channel(String),
    /// A cash deposit: matched by slip reference and amount.
    Deposit,
    /// A refund recorded as sent: matched by the bank's reference (money out).
    Refund,
}

/// One ledger item, as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerItem {
    /// The posting that names the item (unique; what a match records).
    pub posting_id: i64,
    pub kind: ItemKind,
    pub flow: Flow,
    /// `KHR` or `USD`.
    pub currency: String,
    /// Minor units, positive.
    pub amount_minor: i64,
    /// The Cambodian date the ledger recorded it.
    pub date: NaiveDate,
    /// Identifiers the bank may show for it, in order of strength: the bank's transaction id
    /// (Bakong hash, gateway transaction id), the KHQR md5, the bill number, the slip
    /// reference. Compared exactly (after trimming).
    pub keys: Vec<String>,
}

/// One part of a batch line (camt `TxDtls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePart {
    pub transaction_id: Option<String>,
    pub reference: Option<String>,
    pub amount_minor: Option<i64>,
}

/// One statement line, as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// A [`Match`] names a line by its position in the caller's slice.
    pub flow: Flow,
    pub currency: String,
    /// Minor units, positive.
    pub amount_minor: i64,
    pub booking_date: NaiveDate,
    pub transaction_id: Option<String>,
    pub reference: Option<String>,
    /// Parts of a batch line; empty for a single payment.
    pub parts: Vec<LinePart>,
}

/// How far the matcher looks: a line booked up to `late_days` after the item's date (banks
/// book the next working day) or `early_days` before it still matches; a bank fee deducted
/// from a line is accepted up to `max_fee_basis_points` of the item (100 = 1 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub late_days: i64,
    pub early_days: i64,
    pub max_fee_basis_points: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            late_days: 3,
            early_days: 0,
            max_fee_basis_points: 500,
        }
    }
}

/// How a match was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// One line, one item, same amount, by key.
    Exact,
    /// One line, one item, by key, the line less a bank fee.
    FeeDeducted,
    /// One line, several items named by the line's parts.
    Batch,
    /// One line, several items of one day whose sum is the line (no keys on the line).
    BatchBySum,
}

impl Method {
    /// As stored in `reconciliation_matches.method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::FeeDeducted => "fee_deducted",
            Method::Batch => "batch",
            Method::BatchBySum => "batch_by_sum",
        }
    }
}

/// One line paired with the items it settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Index into the lines.
    pub line: usize,
    /// Indexes into the items, at least one.
    pub items: Vec<usize>,
    pub method: Method,
    /// Items' total less the line's amount when the bank kept a fee; zero otherwise.
    pub fee_minor: i64,
}

/// What the matcher found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub matches: Vec<Match>,
    /// Indexes of lines no item matched, ascending.
    pub unmatched_lines: Vec<usize>,
    /// Indexes of items no line matched, ascending.
    pub unmatched_items: Vec<usize>,
}

/// Pairs lines with items under `rules`. Pure: the same input gives the same outcome.
///
/// This first version matches one line to one item by key, exact amount, same currency and
/// flow, within the date window. (Batches, fees and sums come next.)
pub fn reconcile(items: &[LedgerItem], lines: &[Line], rules: &Rules) -> Outcome {
    let mut item_used = vec![false; items.len()];
    let mut outcome = Outcome::default();
    for (line_index, line) in lines.iter().enumerate() {
        let keys: Vec<&str> = [line.transaction_id.as_deref(), line.reference.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .collect();
        let found = items.iter().enumerate().find(|(index, item)| {
            !item_used.get(*index).copied().unwrap_or(true)
                && item.flow == line.flow
                && item.currency == line.currency
                && item.amount_minor == line.amount_minor
                && in_window(item.date, line.booking_date, rules)
                && item.keys.iter().any(|key| keys.contains(&key.trim()))
        });
        match found {
            Some((item_index, _)) => {
                if let Some(used) = item_used.get_mut(item_index) {
                    *used = true;
                }
                outcome.matches.push(Match {
                    line: line_index,
                    items: vec![item_index],
                    method: Method::Exact,
                    fee_minor: 0,
                });
            }
            None => outcome.unmatched_lines.push(line_index),
        }
    }
    outcome.unmatched_items = item_used
        .iter()
        .enumerate()
        .filter(|(_, used)| !**used)
        .map(|(index, _)| index)
        .collect();
    outcome
}

fn in_window(item_date: NaiveDate, booking_date: NaiveDate, rules: &Rules) -> bool {
    let days = booking_date.signed_duration_since(item_date).num_days();
    -rules.early_days <= days && days <= rules.late_days
}
