//! Matching statement lines to ledger items: a pure function, so it can be property-tested
//! and benchmarked without a database.
//!
//! A ledger item is money the ledger says is on its way to (or from) the bank: an online
//! payment or a suspense arrival in clearing, a cash deposit in transit, a refund payable.
//! A statement line is what the bank says moved. The function pairs them; it never pairs a
//! line or an item twice.

use std::collections::HashMap;

use chrono::{NaiveDate, TimeDelta};

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

/// Pairs lines with items under `rules`. Pure and deterministic: the same input gives the same
/// outcome, whatever the hash maps do inside.
///
/// Three passes, each in line order, so that a batch never takes an item a single line names:
///
/// 1. **By key** (lines without parts): the line's transaction id and reference, trimmed, are
///    looked up among the items' keys. A candidate has the line's currency and flow and a date
///    in the window (`booking_date - item.date` in `[-early_days, late_days]`). The same amount
///    is [`Method::Exact`]; for money in, a line short of a channel item by at most
///    `max_fee_basis_points` of it is [`Method::FeeDeducted`]. A deposit matches only at its
///    exact amount. An exact candidate wins over a fee candidate; among equals the earliest
///    item date, then the lowest `posting_id`, then the lowest index.
/// 2. **Batch by parts** (lines with parts): each part names one distinct unused item by its
///    keys (a part's amount, when given, is preferred, and a deposit needs it); the line
///    matches when the items' total less the line is zero or, for money in, a fee within the
///    bound: [`Method::Batch`], items in part order. Otherwise the line takes nothing.
/// 3. **Batch by sum**, for lines whose keys (their own and their parts') name no item at all,
///    used or not: the unused channel items of one ledger day D with the line's currency and
///    flow, D in the window, latest D first. All of that day's unused items (two or more) are
///    taken when their total is exactly the line's amount (no fee: see [`batch_by_sum`]):
///    [`Method::BatchBySum`], items ascending. There is no subset search: a settlement pays a
///    day's items together, a search over subsets is exponential and would find chance sums in
///    a busy day; a keyless line that fits no whole day stays an exception for a person.
///
/// A line whose key names an item it cannot take (wrong amount, too large, outside the window,
/// already taken) is not tried by sum: it is an exception, like the item.
///
/// Cost: building the indexes is O(n log n) in the items (one sort by date); each keyed line
/// looks only at the items under its keys and inside its date window; a keyless line checks a
/// running total per day in O(1) per day of the window. No pass is O(lines × items).
pub fn reconcile(items: &[LedgerItem], lines: &[Line], rules: &Rules) -> Outcome {
    let index = Index::build(items);
    let mut state = State::new(items, &index);
    let mut matches: Vec<Match> = Vec::new();
    let mut line_matched = vec![false; lines.len()];

    // Pass 1: single lines by key.
    for (line_index, line) in lines.iter().enumerate() {
        if !line.parts.is_empty() {
            continue;
        }
        let keys = [line.transaction_id.as_deref(), line.reference.as_deref()];
        let Some((item_index, method, fee_minor)) =
            best_single(items, &index, &state, line, &keys, rules)
        else {
            continue;
        };
        state.take(items, &index, item_index);
        set(&mut line_matched, line_index);
        matches.push(Match {
            line: line_index,
            items: vec![item_index],
            method,
            fee_minor,
        });
    }

    // Pass 2: batch lines by their parts.
    for (line_index, line) in lines.iter().enumerate() {
        if line.parts.is_empty() {
            continue;
        }
        if let Some(found) = batch_by_parts(items, &index, &mut state, line, rules) {
            set(&mut line_matched, line_index);
            matches.push(Match {
                line: line_index,
                items: found.0,
                method: Method::Batch,
                fee_minor: found.1,
            });
        }
    }

    // Pass 3: keyless lines by a day's total.
    for (line_index, line) in lines.iter().enumerate() {
        if line_matched.get(line_index).copied().unwrap_or(true) || names_any_item(&index, line) {
            continue;
        }
        if let Some(found) = batch_by_sum(items, &index, &mut state, line, rules) {
            set(&mut line_matched, line_index);
            matches.push(Match {
                line: line_index,
                items: found.0,
                method: Method::BatchBySum,
                fee_minor: found.1,
            });
        }
    }

    matches.sort_unstable_by_key(|found| found.line);
    Outcome {
        matches,
        unmatched_lines: unset_positions(&line_matched),
        unmatched_items: unset_positions(&state.used),
    }
}

fn set(flags: &mut [bool], position: usize) {
    if let Some(flag) = flags.get_mut(position) {
        *flag = true;
    }
}

fn unset_positions(flags: &[bool]) -> Vec<usize> {
    flags
        .iter()
        .enumerate()
        .filter(|(_, flag)| !**flag)
        .map(|(position, _)| position)
        .collect()
}

/// A key as compared: trimmed, and nothing when blank.
fn clean(key: Option<&str>) -> Option<&str> {
    key.map(str::trim).filter(|key| !key.is_empty())
}

/// The items by key and by ledger day, as flat lists (one allocation each rather than one
/// vector per key: a month of all offices has millions of keys).
struct Index<'a> {
    /// Key → slot in `key_offsets`.
    key_slots: HashMap<&'a str, usize>,
    /// `key_items[key_offsets[slot]..key_offsets[slot + 1]]` are the items with that key, in
    /// (date, posting_id, index) order.
    key_offsets: Vec<usize>,
    key_items: Vec<usize>,
    /// (currency, flow, date) of channel items → day group.
    day_slots: HashMap<(&'a str, Flow, NaiveDate), usize>,
    day_offsets: Vec<usize>,
    /// Channel items of each day, ascending index.
    day_items: Vec<usize>,
    /// Item → its day group (channel items only).
    day_of: Vec<Option<usize>>,
}

impl<'a> Index<'a> {
    fn build(items: &'a [LedgerItem]) -> Self {
        // The order candidates are tried in: earliest date, lowest posting_id, lowest index.
        // Sorted as a contiguous vector of tuples, not indexes into the items: a sort that
        // reads the items through an index misses the cache on every comparison.
        let mut order: Vec<(NaiveDate, i64, usize)> = items
            .iter()
            .enumerate()
            .map(|(position, item)| (item.date, item.posting_id, position))
            .collect();
        order.sort_unstable();

        // Sized up front: a month of all offices has millions of keys, and growing the table
        // rehashes every one of them each time it doubles.
        let key_count: usize = items.iter().map(|item| item.keys.len()).sum();
        let mut key_slots: HashMap<&'a str, usize> = HashMap::with_capacity(key_count);
        let mut key_pairs: Vec<(usize, usize)> = Vec::with_capacity(key_count);
        for &(_, _, position) in &order {
            let Some(item) = items.get(position) else {
                continue;
            };
            let first_pair = key_pairs.len();
            for key in item.keys.iter().filter_map(|key| clean(Some(key))) {
                let next = key_slots.len();
                let slot = *key_slots.entry(key).or_insert(next);
                // An item listing one key twice is one candidate, not two.
                let repeated = key_pairs
                    .get(first_pair..)
                    .is_some_and(|mine| mine.iter().any(|pair| pair.0 == slot));
                if !repeated {
                    key_pairs.push((slot, position));
                }
            }
        }
        let (key_offsets, key_items) = group(key_slots.len(), &key_pairs);

        let mut day_slots: HashMap<(&'a str, Flow, NaiveDate), usize> = HashMap::new();
        let mut day_pairs: Vec<(usize, usize)> = Vec::new();
        let mut day_of = vec![None; items.len()];
        for (position, item) in items.iter().enumerate() {
            if !matches!(item.kind, ItemKind::Channel(_)) {
                continue;
            }
            let next = day_slots.len();
            let slot = *day_slots
                .entry((item.currency.as_str(), item.flow, item.date))
                .or_insert(next);
            day_pairs.push((slot, position));
            if let Some(day) = day_of.get_mut(position) {
                *day = Some(slot);
            }
        }
        let (day_offsets, day_items) = group(day_slots.len(), &day_pairs);

        Index {
            key_slots,
            key_offsets,
            key_items,
            day_slots,
            day_offsets,
            day_items,
            day_of,
        }
    }

    /// The items under `key`, in candidate order.
    fn by_key(&self, key: &str) -> &[usize] {
        self.key_slots
            .get(key)
            .and_then(|&slot| {
                let start = *self.key_offsets.get(slot)?;
                let end = *self.key_offsets.get(slot + 1)?;
                self.key_items.get(start..end)
            })
            .unwrap_or(&[])
    }

    fn day(&self, slot: usize) -> &[usize] {
        (|| {
            let start = *self.day_offsets.get(slot)?;
            let end = *self.day_offsets.get(slot + 1)?;
            self.day_items.get(start..end)
        })()
        .unwrap_or(&[])
    }
}

/// A counting sort of (slot, item) pairs by slot, stable, so each slot keeps the pairs' order.
fn group(slots: usize, pairs: &[(usize, usize)]) -> (Vec<usize>, Vec<usize>) {
    let mut offsets = vec![0_usize; slots + 1];
    for &(slot, _) in pairs {
        if let Some(count) = offsets.get_mut(slot + 1) {
            *count += 1;
        }
    }
    for slot in 0..slots {
        let before = offsets.get(slot).copied().unwrap_or(0);
        if let Some(count) = offsets.get_mut(slot + 1) {
            *count += before;
        }
    }
    let mut next = offsets.clone();
    let mut members = vec![0_usize; pairs.len()];
    for &(slot, item) in pairs {
        if let Some(cursor) = next.get_mut(slot) {
            if let Some(member) = members.get_mut(*cursor) {
                *member = item;
            }
            *cursor += 1;
        }
    }
    (offsets, members)
}

/// What has been taken so far, and each day's untaken total (for pass 3 in O(1) a day).
struct State {
    used: Vec<bool>,
    day_unused_total: Vec<i128>,
    day_unused_count: Vec<usize>,
}

impl State {
    fn new(items: &[LedgerItem], index: &Index<'_>) -> Self {
        let mut state = State {
            used: vec![true; items.len()],
            day_unused_total: vec![0; index.day_slots.len()],
            day_unused_count: vec![0; index.day_slots.len()],
        };
        for position in 0..items.len() {
            state.flip(items, index, position, false);
        }
        state
    }

    fn is_free(&self, item_index: usize) -> bool {
        !self.used.get(item_index).copied().unwrap_or(true)
    }

    fn take(&mut self, items: &[LedgerItem], index: &Index<'_>, item_index: usize) {
        self.flip(items, index, item_index, true);
    }

    fn release(&mut self, items: &[LedgerItem], index: &Index<'_>, item_index: usize) {
        self.flip(items, index, item_index, false);
    }

    fn flip(&mut self, items: &[LedgerItem], index: &Index<'_>, item_index: usize, used: bool) {
        let Some(flag) = self.used.get_mut(item_index) else {
            return;
        };
        if *flag == used {
            return;
        }
        *flag = used;
        let (Some(item), Some(Some(day))) = (items.get(item_index), index.day_of.get(item_index))
        else {
            return;
        };
        let amount = i128::from(item.amount_minor);
        if let Some(total) = self.day_unused_total.get_mut(*day) {
            *total += if used { -amount } else { amount };
        }
        if let Some(count) = self.day_unused_count.get_mut(*day) {
            if used {
                *count = count.saturating_sub(1);
            } else {
                *count += 1;
            }
        }
    }
}

/// The dates an item may have for a line booked on `booking_date`: `[booking - late, booking +
/// early]`, clamped to the calendar.
fn item_dates(booking_date: NaiveDate, rules: &Rules) -> (NaiveDate, NaiveDate) {
    let shift = |days: i64| {
        TimeDelta::try_days(days).and_then(|delta| booking_date.checked_add_signed(delta))
    };
    let first = shift(rules.late_days.saturating_neg()).unwrap_or(if rules.late_days > 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    });
    let last = shift(rules.early_days).unwrap_or(if rules.early_days > 0 {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    });
    (first, last)
}

/// `total - paid` as a fee when it is positive and within `max_fee_basis_points` of `total`.
fn fee_within(total: i128, paid: i128, rules: &Rules) -> Option<i64> {
    let fee = total - paid;
    let within = fee > 0 && fee * 10_000 <= total * i128::from(rules.max_fee_basis_points);
    if within {
        i64::try_from(fee).ok()
    } else {
        None
    }
}

/// How `paid` settles one item of `item_amount` on a line of `flow`, if it does.
fn settles(item: &LedgerItem, flow: Flow, paid: i64, rules: &Rules) -> Option<(Method, i64)> {
    if item.amount_minor == paid {
        return Some((Method::Exact, 0));
    }
    if flow != Flow::In || item.kind == ItemKind::Deposit {
        return None;
    }
    fee_within(i128::from(item.amount_minor), i128::from(paid), rules)
        .map(|fee| (Method::FeeDeducted, fee))
}

/// The free items under `keys` with the line's currency and flow and a date in the window, in
/// candidate order per key (each key's list is sorted by date, so the window is a range).
fn candidates<'i>(
    items: &'i [LedgerItem],
    index: &'i Index<'_>,
    state: &'i State,
    line: &'i Line,
    keys: &'i [Option<&'i str>],
    rules: &Rules,
) -> impl Iterator<Item = (usize, &'i LedgerItem)> + 'i {
    let (first, last) = item_dates(line.booking_date, rules);
    keys.iter()
        .filter_map(|key| clean(*key))
        .flat_map(move |key| {
            let list = index.by_key(key);
            let date_below = |bound: NaiveDate| {
                list.partition_point(move |&position| {
                    items.get(position).is_some_and(|item| item.date < bound)
                })
            };
            let start = date_below(first);
            let end = last.succ_opt().map_or(list.len(), date_below);
            list.get(start..end).unwrap_or(&[]).iter()
        })
        .map_while(move |&position| {
            let item = items.get(position)?;
            Some((position, item))
        })
        .filter(move |(position, item)| {
            state.is_free(*position) && item.flow == line.flow && item.currency == line.currency
        })
}

/// Pass 1's choice for one line: an exact candidate before a fee one; among equals the
/// earliest date, the lowest posting_id, the lowest index.
fn best_single(
    items: &[LedgerItem],
    index: &Index<'_>,
    state: &State,
    line: &Line,
    keys: &[Option<&str>],
    rules: &Rules,
) -> Option<(usize, Method, i64)> {
    candidates(items, index, state, line, keys, rules)
        .filter_map(|(position, item)| {
            let (method, fee) = settles(item, line.flow, line.amount_minor, rules)?;
            let rank = u8::from(method != Method::Exact);
            Some(((rank, item.date, item.posting_id, position), method, fee))
        })
        .min_by_key(|(order, _, _)| *order)
        .map(|((_, _, _, position), method, fee)| (position, method, fee))
}

/// Pass 2 for one line: every part takes a distinct free item by key, or the line takes
/// nothing. Returns the items in part order and the fee.
fn batch_by_parts(
    items: &[LedgerItem],
    index: &Index<'_>,
    state: &mut State,
    line: &Line,
    rules: &Rules,
) -> Option<(Vec<usize>, i64)> {
    let mut taken: Vec<usize> = Vec::with_capacity(line.parts.len());
    let mut total: i128 = 0;
    for part in &line.parts {
        let keys = [part.transaction_id.as_deref(), part.reference.as_deref()];
        let chosen = candidates(items, index, state, line, &keys, rules)
            .filter(|(_, item)| {
                item.kind != ItemKind::Deposit || part.amount_minor == Some(item.amount_minor)
            })
            .min_by_key(|(position, item)| {
                let named_amount = part.amount_minor.is_some_and(|a| a == item.amount_minor);
                (!named_amount, item.date, item.posting_id, *position)
            })
            .map(|(position, item)| (position, item.amount_minor));
        match chosen {
            Some((position, amount)) => {
                state.take(items, index, position);
                taken.push(position);
                total += i128::from(amount);
            }
            None => break,
        }
    }
    let paid = i128::from(line.amount_minor);
    let fee = if taken.len() != line.parts.len() {
        None
    } else if total == paid {
        Some(0)
    } else if line.flow == Flow::In {
        fee_within(total, paid, rules)
    } else {
        None
    };
    match fee {
        Some(fee) => Some((taken, fee)),
        None => {
            for position in taken {
                state.release(items, index, position);
            }
            None
        }
    }
}

/// Whether any of the line's keys (its own or its parts') is some item's key, taken or not.
fn names_any_item(index: &Index<'_>, line: &Line) -> bool {
    let own = [line.transaction_id.as_deref(), line.reference.as_deref()];
    let parts = line
        .parts
        .iter()
        .flat_map(|part| [part.transaction_id.as_deref(), part.reference.as_deref()]);
    own.into_iter()
        .chain(parts)
        .filter_map(clean)
        .any(|key| index.key_slots.contains_key(key))
}

/// The fewest items a keyless line may settle by sum: one item is a single payment, which
/// needs a key.
const MIN_ITEMS_BY_SUM: usize = 2;

/// Pass 3 for one keyless line: the free channel items of the latest ledger day in the window
/// whose total is the line (or the line plus a fee within the bound, money in). Returns the
/// items ascending and the fee.
fn batch_by_sum(
    items: &[LedgerItem],
    index: &Index<'_>,
    state: &mut State,
    line: &Line,
    rules: &Rules,
) -> Option<(Vec<usize>, i64)> {
    let (first, last) = item_dates(line.booking_date, rules);
    let paid = i128::from(line.amount_minor);
    let mut day = last;
    while day >= first {
        let slot = index
            .day_slots
            .get(&(line.currency.as_str(), line.flow, day))
            .copied();
        if let Some(slot) = slot {
            let total = state.day_unused_total.get(slot).copied().unwrap_or(0);
            let count = state.day_unused_count.get(slot).copied().unwrap_or(0);
            // Exact totals of two or more items only: with a fee allowed (or one item), a
            // stray line lands within a few percent of some day's leftovers by chance (the
            // benchmark's busy office paired 3 of 6 that way), and a wrong pairing hides two
            // exceptions instead of showing them.
            let fee = (count >= MIN_ITEMS_BY_SUM && total == paid).then_some(0);
            if let Some(fee) = fee {
                let chosen: Vec<usize> = index
                    .day(slot)
                    .iter()
                    .copied()
                    .filter(|&position| state.is_free(position))
                    .collect();
                for &position in &chosen {
                    state.take(items, index, position);
                }
                return Some((chosen, fee));
            }
        }
        day = day.pred_opt()?;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + TimeDelta::days(i64::from(n))
    }

    fn channel(posting_id: i64, amount_minor: i64, date: NaiveDate) -> LedgerItem {
        LedgerItem {
            posting_id,
            kind: ItemKind::Channel("bakong".into()),
            flow: Flow::In,
            currency: "KHR".into(),
            amount_minor,
            date,
            keys: vec![format!("hash-{posting_id}"), format!("md5-{posting_id}")],
        }
    }

    fn deposit(posting_id: i64, amount_minor: i64, date: NaiveDate, slip: &str) -> LedgerItem {
        LedgerItem {
            kind: ItemKind::Deposit,
            keys: vec![slip.into()],
            ..channel(posting_id, amount_minor, date)
        }
    }

    /// The line the bank writes for `item`: its first key, its amount, its day.
    fn line_for(item: &LedgerItem) -> Line {
        Line {
            flow: item.flow,
            currency: item.currency.clone(),
            amount_minor: item.amount_minor,
            booking_date: item.date,
            transaction_id: Some(item.keys[0].clone()),
            reference: None,
            parts: vec![],
        }
    }

    fn keyless(amount_minor: i64, booking_date: NaiveDate) -> Line {
        Line {
            flow: Flow::In,
            currency: "KHR".into(),
            amount_minor,
            booking_date,
            transaction_id: None,
            reference: Some("SETTLEMENT".into()),
            parts: vec![],
        }
    }

    fn part_for(item: &LedgerItem) -> LinePart {
        LinePart {
            transaction_id: None,
            reference: Some(format!("  {}  ", item.keys[1])),
            amount_minor: Some(item.amount_minor),
        }
    }

    /// Every line once in matches ∪ unmatched_lines, every item at most once in the matches
    /// and exactly once in matches ∪ unmatched_items, both lists ascending, and each match
    /// internally consistent (same currency and flow, fee = items − line, never negative).
    fn assert_partition(items: &[LedgerItem], lines: &[Line], outcome: &Outcome) {
        let mut line_seen = vec![0_u32; lines.len()];
        let mut item_seen = vec![0_u32; items.len()];
        for found in &outcome.matches {
            line_seen[found.line] += 1;
            assert!(!found.items.is_empty(), "{found:?} names no item");
            let line = &lines[found.line];
            let mut total = 0_i64;
            for &item in &found.items {
                item_seen[item] += 1;
                assert_eq!(items[item].currency, line.currency);
                assert_eq!(items[item].flow, line.flow);
                total += items[item].amount_minor;
            }
            assert_eq!(found.fee_minor, total - line.amount_minor, "{found:?}");
            assert!(found.fee_minor >= 0);
            if found.fee_minor > 0 {
                assert_eq!(line.flow, Flow::In);
            }
        }
        assert!(outcome.unmatched_lines.windows(2).all(|w| w[0] < w[1]));
        assert!(outcome.unmatched_items.windows(2).all(|w| w[0] < w[1]));
        for &line in &outcome.unmatched_lines {
            line_seen[line] += 1;
        }
        for &item in &outcome.unmatched_items {
            item_seen[item] += 1;
        }
        assert!(line_seen.iter().all(|&n| n == 1), "lines: {line_seen:?}");
        assert!(item_seen.iter().all(|&n| n == 1), "items: {item_seen:?}");
    }

    fn only(outcome: &Outcome, line: usize) -> &Match {
        outcome.matches.iter().find(|m| m.line == line).unwrap()
    }

    #[test]
    fn a_line_matches_its_item_by_key_and_amount() {
        let items = vec![channel(1, 40_000, day(3)), channel(2, 8_000, day(3))];
        let lines = vec![line_for(&items[1]), line_for(&items[0])];
        let outcome = reconcile(&items, &lines, &Rules::default());
        assert_partition(&items, &lines, &outcome);
        assert_eq!(
            outcome.matches,
            vec![
                Match {
                    line: 0,
                    items: vec![1],
                    method: Method::Exact,
                    fee_minor: 0
                },
                Match {
                    line: 1,
                    items: vec![0],
                    method: Method::Exact,
                    fee_minor: 0
                },
            ]
        );
    }

    #[test]
    fn keys_are_compared_trimmed_through_the_reference_too() {
        let items = vec![channel(1, 40_000, day(3))];
        let mut line = line_for(&items[0]);
        line.transaction_id = Some("unknown".into());
        line.reference = Some(" md5-1\n".into());
        let outcome = reconcile(&items, &[line], &Rules::default());
        assert_eq!(outcome.matches.len(), 1);
    }

    #[test]
    fn a_fee_deducted_line_matches_with_the_fee() {
        let items = vec![channel(1, 40_000, day(3))];
        let mut line = line_for(&items[0]);
        line.amount_minor = 39_000; // 2.5 % kept by the bank, within 5 %
        let outcome = reconcile(&items, std::slice::from_ref(&line), &Rules::default());
        assert_eq!(
            outcome.matches,
            vec![Match {
                line: 0,
                items: vec![0],
                method: Method::FeeDeducted,
                fee_minor: 1_000
            }]
        );

        line.amount_minor = 37_999; // just over 5 %
        let outcome = reconcile(&items, &[line], &Rules::default());
        assert_eq!(outcome.unmatched_lines, vec![0]);
        assert_eq!(outcome.unmatched_items, vec![0]);
    }

    #[test]
    fn a_line_larger_than_its_item_or_money_out_short_does_not_match() {
        let items = vec![channel(1, 40_000, day(3))];
        let mut line = line_for(&items[0]);
        line.amount_minor = 40_001;
        let outcome = reconcile(&items, &[line], &Rules::default());
        assert!(outcome.matches.is_empty());

        let mut refund = channel(2, 10_000, day(3));
        refund.kind = ItemKind::Refund;
        refund.flow = Flow::Out;
        let mut line = line_for(&refund);
        line.amount_minor = 9_990;
        let outcome = reconcile(&[refund.clone()], &[line], &Rules::default());
        assert!(outcome.matches.is_empty(), "no fee on money out");
        let outcome = reconcile(&[refund.clone()], &[line_for(&refund)], &Rules::default());
        assert_eq!(outcome.matches[0].method, Method::Exact);
    }

    #[test]
    fn a_line_never_matches_another_currency_or_flow() {
        let items = vec![channel(1, 40_000, day(3))];
        let mut dollars = line_for(&items[0]);
        dollars.currency = "USD".into();
        let mut out = line_for(&items[0]);
        out.flow = Flow::Out;
        let outcome = reconcile(&items, &[dollars, out], &Rules::default());
        assert!(outcome.matches.is_empty());
        assert_eq!(outcome.unmatched_lines, vec![0, 1]);
    }

    #[test]
    fn a_deposit_matches_by_slip_and_exact_amount_only() {
        let items = vec![deposit(1, 1_200_000, day(3), "SLIP-0100-17")];
        let mut line = line_for(&items[0]);
        line.transaction_id = None;
        line.reference = Some("SLIP-0100-17".into());
        line.booking_date = day(4);
        let outcome = reconcile(&items, std::slice::from_ref(&line), &Rules::default());
        assert_eq!(outcome.matches[0].method, Method::Exact);

        line.amount_minor = 1_199_000; // would be a 0.08 % fee on a channel item
        let outcome = reconcile(&items, &[line], &Rules::default());
        assert!(outcome.matches.is_empty());
    }

    #[test]
    fn a_late_line_matches_inside_the_window_and_not_outside() {
        let rules = Rules::default(); // 3 days late, 0 early
        let items = vec![channel(1, 40_000, day(3))];
        for (booked, matches) in [
            (day(2), false),
            (day(3), true),
            (day(6), true),
            (day(7), false),
        ] {
            let mut line = line_for(&items[0]);
            line.booking_date = booked;
            let outcome = reconcile(&items, &[line], &rules);
            assert_eq!(outcome.matches.len() == 1, matches, "booked {booked}");
        }
        let early = Rules {
            early_days: 1,
            ..rules
        };
        let mut line = line_for(&items[0]);
        line.booking_date = day(2);
        assert_eq!(reconcile(&items, &[line], &early).matches.len(), 1);
    }

    #[test]
    fn ties_go_to_the_earliest_item_then_the_lowest_posting_id() {
        // Three items share a bill number; the line names it.
        let mut items = vec![
            channel(9, 5_000, day(4)),
            channel(7, 5_000, day(3)),
            channel(5, 5_000, day(3)),
            channel(3, 4_990, day(2)), // earliest, but smaller than the line: never taken
        ];
        for item in &mut items {
            item.keys.push("BILL-1".into());
        }
        let mut line = line_for(&items[0]);
        line.transaction_id = Some("BILL-1".into());
        line.booking_date = day(4);
        let lines = vec![line.clone(), line.clone(), line.clone(), line];
        let outcome = reconcile(&items, &lines, &Rules::default());
        assert_partition(&items, &lines, &outcome);
        let taken: Vec<(usize, Method)> = outcome
            .matches
            .iter()
            .map(|m| (m.items[0], m.method))
            .collect();
        assert_eq!(
            taken,
            vec![(2, Method::Exact), (1, Method::Exact), (0, Method::Exact)]
        );
        assert_eq!(
            outcome.unmatched_lines,
            vec![3],
            "a line larger than the item stays"
        );
        assert_eq!(outcome.unmatched_items, vec![3]);
    }

    #[test]
    fn a_batch_line_with_parts_matches_all_its_items() {
        let items: Vec<LedgerItem> = (1..=5).map(|n| channel(n, 10_000 * n, day(3))).collect();
        let total: i64 = items.iter().map(|item| item.amount_minor).sum();
        let line = Line {
            amount_minor: total - 300, // one fee for the batch
            booking_date: day(4),
            transaction_id: Some("BATCH-77".into()),
            parts: items.iter().rev().map(part_for).collect(),
            ..keyless(0, day(4))
        };
        let outcome = reconcile(&items, std::slice::from_ref(&line), &Rules::default());
        assert_eq!(
            outcome.matches,
            vec![Match {
                line: 0,
                items: vec![4, 3, 2, 1, 0],
                method: Method::Batch,
                fee_minor: 300
            }]
        );
        assert!(outcome.unmatched_items.is_empty());

        // A part naming nothing: the whole line takes nothing.
        let mut broken = line;
        broken.parts.push(LinePart {
            transaction_id: Some("nobody".into()),
            reference: None,
            amount_minor: Some(1),
        });
        let outcome = reconcile(&items, &[broken], &Rules::default());
        assert!(outcome.matches.is_empty());
        assert_eq!(outcome.unmatched_items, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_batch_never_takes_an_item_a_single_line_names() {
        let items = vec![channel(1, 10_000, day(3)), channel(2, 20_000, day(3))];
        let batch = Line {
            amount_minor: 30_000,
            parts: items.iter().map(part_for).collect(),
            ..keyless(0, day(3))
        };
        // The batch comes first in the statement; the single line still gets its item.
        let lines = vec![batch, line_for(&items[0])];
        let outcome = reconcile(&items, &lines, &Rules::default());
        assert_partition(&items, &lines, &outcome);
        assert_eq!(outcome.matches.len(), 1);
        assert_eq!(only(&outcome, 1).items, vec![0]);
        assert_eq!(outcome.unmatched_lines, vec![0]);
        assert_eq!(outcome.unmatched_items, vec![1]);
    }

    #[test]
    fn a_keyless_line_of_a_days_total_matches_by_sum_latest_day_first() {
        let items = vec![
            channel(1, 10_000, day(2)),
            channel(2, 20_000, day(3)),
            channel(3, 15_000, day(3)),
            channel(4, 25_000, day(2)),
            deposit(5, 7_000, day(3), "SLIP-1"), // never part of a sum
        ];
        // Day 2 and day 3 both total 35,000 in channel items: the later day is taken.
        let lines = vec![keyless(35_000, day(4)), keyless(35_000, day(4))];
        let outcome = reconcile(&items, &lines, &Rules::default());
        assert_partition(&items, &lines, &outcome);
        assert_eq!(only(&outcome, 0).items, vec![1, 2]);
        assert_eq!(only(&outcome, 0).method, Method::BatchBySum);
        assert_eq!(only(&outcome, 1).items, vec![0, 3]);
        assert_eq!(outcome.unmatched_items, vec![4]);

        // Less a fee: no match by sum (a stray line lands near some day's total by chance).
        let lines = vec![keyless(34_900, day(3))];
        let outcome = reconcile(&items, &lines, &Rules::default());
        assert!(outcome.matches.is_empty());
        assert_eq!(outcome.unmatched_lines, vec![0]);

        // One item is a single payment, which needs a key: 7,000 of day 5 alone is no batch.
        let items = vec![channel(1, 7_000, day(5))];
        let outcome = reconcile(&items, &[keyless(7_000, day(5))], &Rules::default());
        assert!(outcome.matches.is_empty());

        // No subset search: 20,000 is one item of day 3, not the day's total.
        let outcome = reconcile(&items, &[keyless(20_000, day(3))], &Rules::default());
        assert!(outcome.matches.is_empty());
    }

    #[test]
    fn a_line_whose_key_names_an_item_is_not_tried_by_sum() {
        let items = vec![channel(1, 10_000, day(3)), channel(2, 20_000, day(3))];
        let mut line = line_for(&items[0]);
        line.amount_minor = 30_000; // the day's total, but it names item 0: an exception
        let outcome = reconcile(&items, &[line], &Rules::default());
        assert!(outcome.matches.is_empty());
    }

    #[test]
    fn a_keyless_line_fitting_no_day_stays_unmatched() {
        let items = vec![channel(1, 10_000, day(3))];
        let outcome = reconcile(&items, &[keyless(12_345, day(3))], &Rules::default());
        assert_eq!(outcome.unmatched_lines, vec![0]);
        assert_eq!(outcome.unmatched_items, vec![0]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert_eq!(reconcile(&[], &[], &Rules::default()), Outcome::default());
        let outcome = reconcile(&[], &[keyless(1, day(1))], &Rules::default());
        assert_eq!(outcome.unmatched_lines, vec![0]);
    }

    /// A statement with the noise, and what each line was made from.
    #[derive(Debug, Clone)]
    struct Case {
        items: Vec<LedgerItem>,
        lines: Vec<Line>,
    }

    #[derive(Debug, Clone, Copy)]
    enum Noise {
        Perfect,
        Missing,
        Fee,
        Late,
        TooLate,
        Batched,
    }

    fn noise() -> impl Strategy<Value = Noise> {
        prop_oneof![
            6 => Just(Noise::Perfect),
            1 => Just(Noise::Missing),
            1 => Just(Noise::Fee),
            1 => Just(Noise::Late),
            1 => Just(Noise::TooLate),
            1 => Just(Noise::Batched),
        ]
    }

    /// Items on a few days with a few shared keys (bill numbers reused), lines from them with
    /// noise, and keyless extra lines: anything goes, for the invariants.
    fn noisy_case() -> impl Strategy<Value = Case> {
        let item = (
            1_i64..50_000,
            0_u32..5,
            0_u8..4,
            any::<bool>(),
            any::<bool>(),
        );
        (
            prop::collection::vec((item, noise()), 0..40),
            prop::collection::vec((1_i64..200_000, 0_u32..8), 0..4),
        )
            .prop_map(|(specs, extras)| {
                let mut items = Vec::new();
                let mut lines = Vec::new();
                let mut batch: Vec<LinePart> = Vec::new();
                let mut batch_total = 0;
                for (n, ((amount, date, shared, dollars, deposit_kind), noise)) in
                    specs.into_iter().enumerate()
                {
                    let mut item = channel(i64::try_from(n).unwrap() + 1, amount, day(date));
                    item.keys.push(format!("BILL-{shared}"));
                    if dollars {
                        item.currency = "USD".into();
                    }
                    if deposit_kind {
                        item.kind = ItemKind::Deposit;
                    }
                    let mut line = line_for(&item);
                    match noise {
                        Noise::Perfect => lines.push(line),
                        Noise::Missing => {}
                        Noise::Fee => {
                            line.amount_minor -= amount / 100;
                            lines.push(line);
                        }
                        Noise::Late => {
                            line.booking_date = day(date + 2);
                            lines.push(line);
                        }
                        Noise::TooLate => {
                            line.booking_date = day(date + 9);
                            lines.push(line);
                        }
                        Noise::Batched => {
                            batch.push(part_for(&item));
                            batch_total += amount;
                        }
                    }
                    items.push(item);
                }
                if !batch.is_empty() {
                    lines.push(Line {
                        amount_minor: batch_total,
                        parts: batch,
                        ..keyless(0, day(4))
                    });
                }
                for (amount, date) in extras {
                    lines.push(keyless(amount, day(date)));
                }
                Case { items, lines }
            })
    }

    /// One line per item with its key and amount, items with distinct keys.
    fn perfect_case() -> impl Strategy<Value = Case> {
        prop::collection::vec((1_i64..1_000_000, 0_u32..28, any::<bool>()), 1..60).prop_map(
            |specs| {
                let items: Vec<LedgerItem> = specs
                    .into_iter()
                    .enumerate()
                    .map(|(n, (amount, date, deposit_kind))| {
                        let posting_id = i64::try_from(n).unwrap() + 1;
                        if deposit_kind {
                            deposit(posting_id, amount, day(date), &format!("SLIP-{n}"))
                        } else {
                            channel(posting_id, amount, day(date))
                        }
                    })
                    .collect();
                let lines = items.iter().map(line_for).collect();
                Case { items, lines }
            },
        )
    }

    fn assert_all_exact(case: &Case, outcome: &Outcome) {
        assert!(outcome.unmatched_lines.is_empty());
        assert!(outcome.unmatched_items.is_empty());
        for found in &outcome.matches {
            assert_eq!(found.method, Method::Exact);
            assert_eq!(found.items.len(), 1);
            assert_eq!(
                case.lines[found.line].amount_minor,
                case.items[found.items[0]].amount_minor
            );
        }
    }

    proptest! {
        #[test]
        fn never_twice_and_every_line_and_item_accounted_for(case in noisy_case(), late in 0_i64..4, early in 0_i64..2, bps in 0_i64..600) {
            let rules = Rules { late_days: late, early_days: early, max_fee_basis_points: bps };
            let outcome = reconcile(&case.items, &case.lines, &rules);
            assert_partition(&case.items, &case.lines, &outcome);
            prop_assert_eq!(&outcome, &reconcile(&case.items, &case.lines, &rules), "deterministic");
        }

        #[test]
        fn a_perfect_statement_matches_everything_exactly(case in perfect_case()) {
            let outcome = reconcile(&case.items, &case.lines, &Rules::default());
            assert_partition(&case.items, &case.lines, &outcome);
            assert_all_exact(&case, &outcome);
            for found in &outcome.matches {
                prop_assert_eq!(&found.items, &vec![found.line]);
            }
        }

        #[test]
        fn a_missing_line_leaves_exactly_its_item(case in perfect_case(), pick in any::<prop::sample::Index>()) {
            let dropped = pick.index(case.lines.len());
            let mut lines = case.lines.clone();
            lines.remove(dropped);
            let outcome = reconcile(&case.items, &lines, &Rules::default());
            assert_partition(&case.items, &lines, &outcome);
            prop_assert_eq!(&outcome.unmatched_items, &vec![dropped]);
            prop_assert!(outcome.unmatched_lines.is_empty());
        }

        #[test]
        fn an_extra_line_stays_unmatched_alone(case in perfect_case(), at in any::<prop::sample::Index>(), date in 0_u32..28) {
            let mut lines = case.lines.clone();
            let position = at.index(lines.len() + 1);
            lines.insert(position, keyless(1, day(date)));
            let outcome = reconcile(&case.items, &lines, &Rules::default());
            assert_partition(&case.items, &lines, &outcome);
            prop_assert_eq!(&outcome.unmatched_lines, &vec![position]);
            prop_assert!(outcome.unmatched_items.is_empty());
        }

        #[test]
        fn a_fee_deducted_line_matches_with_its_fee(amount in 10_000_i64..1_000_000, bps in 1_i64..=500) {
            let items = vec![channel(1, amount, day(3))];
            let mut line = line_for(&items[0]);
            let fee = amount * bps / 10_000;
            line.amount_minor = amount - fee;
            let outcome = reconcile(&items, &[line], &Rules::default());
            let expected = if fee == 0 { Method::Exact } else { Method::FeeDeducted };
            prop_assert_eq!(outcome.matches.len(), 1);
            prop_assert_eq!(outcome.matches[0].method, expected);
            prop_assert_eq!(outcome.matches[0].fee_minor, fee);
        }

        #[test]
        fn a_batch_of_n_items_matches_as_one_line(amounts in prop::collection::vec(1_i64..100_000, 1..30)) {
            let items: Vec<LedgerItem> = amounts.iter().enumerate()
                .map(|(n, &amount)| channel(i64::try_from(n).unwrap() + 1, amount, day(3)))
                .collect();
            let line = Line {
                amount_minor: amounts.iter().sum(),
                parts: items.iter().map(part_for).collect(),
                ..keyless(0, day(5))
            };
            let outcome = reconcile(&items, &[line], &Rules::default());
            prop_assert_eq!(outcome.matches.len(), 1);
            prop_assert_eq!(outcome.matches[0].method, Method::Batch);
            prop_assert_eq!(&outcome.matches[0].items, &(0..items.len()).collect::<Vec<_>>());
            prop_assert!(outcome.unmatched_items.is_empty());
        }

        #[test]
        fn a_keyless_line_of_a_days_total_matches_by_sum(amounts in prop::collection::vec(1_i64..100_000, 2..30), late in 0_u32..=3) {
            let items: Vec<LedgerItem> = amounts.iter().enumerate()
                .map(|(n, &amount)| channel(i64::try_from(n).unwrap() + 1, amount, day(3)))
                .collect();
            let line = keyless(amounts.iter().sum(), day(3 + late));
            let outcome = reconcile(&items, &[line], &Rules::default());
            prop_assert_eq!(outcome.matches.len(), 1);
            prop_assert_eq!(outcome.matches[0].method, Method::BatchBySum);
            prop_assert_eq!(&outcome.matches[0].items, &(0..items.len()).collect::<Vec<_>>());
        }

        #[test]
        fn shuffling_a_perfect_statement_changes_no_pairing(case in perfect_case(), seed in any::<u64>()) {
            let outcome = reconcile(&case.items, &case.lines, &Rules::default());
            // A permutation from the seed (xorshift), so the case shrinks.
            let mut order: Vec<usize> = (0..case.lines.len()).collect();
            let mut state = seed | 1;
            for position in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(position, usize::try_from(state % (u64::try_from(position).unwrap() + 1)).unwrap());
            }
            let shuffled: Vec<Line> = order.iter().map(|&n| case.lines[n].clone()).collect();
            let again = reconcile(&case.items, &shuffled, &Rules::default());
            let shuffled_case = Case { items: case.items.clone(), lines: shuffled.clone() };
            assert_all_exact(&shuffled_case, &again);
            let pairs = |outcome: &Outcome, map: &dyn Fn(usize) -> usize| -> HashSet<(usize, usize)> {
                outcome.matches.iter().map(|m| (map(m.line), m.items[0])).collect()
            };
            prop_assert_eq!(pairs(&outcome, &|n| n), pairs(&again, &|n| order[n]));
        }
    }
}
