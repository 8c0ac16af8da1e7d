//! The counter's console pages (issue 14): my drawer (open it with a float counted by
//! denomination), find a case, take cash, print and reprint receipts, today's receipts. One
//! function per page, each calling the drawer's own use cases ([`open`], [`lookup`],
//! [`take_cash`]) so the pages and the JSON routes keep one set of rules.
//!
//! **Original and copies.** The first print of a cash receipt from the console is the
//! original; every later print is a copy, marked "COPY / ច្បាប់ចម្លង". Which print is
//! which is decided by the database in one statement (`receipt_prints`, migration 0018): two
//! instances serving the first print at the same moment cannot both hand out an original.
//! An online (KHQR) receipt printed at the counter is always a copy: the citizen's own page
//! is their original.

use chrono::{DateTime, Utc};
use ledger::{Currency, Money};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    caller_id, lookup, open, start_of_cambodian_day, sum_denominations, take_cash, CashReceipt,
    CounterIntent, Denomination, Drawer, OpenRequest, PerCurrency, TakeCashRequest, CURRENCIES,
    DRAWER_ROLES, KHR_NOTES, USD_NOTES,
};
use crate::app::auth::Principal;
use crate::app::error::AppError;
use crate::app::idempotency::request_hash;
use crate::app::money::MoneyView;
use crate::app::receipt_pages::{self, Receipt};
use crate::app::staff;
use crate::app::states::IntentStatus;
use crate::db;
use crate::state::AppState;

/// The office a counter page works at: the one asked for (`?office=`) when the person works
/// there, else their first office. A national person (no offices) must name one. Anything
/// else is "not found", as for every other office-scoped page.
pub fn counter_office(principal: &Principal, asked: Option<&str>) -> Result<String, AppError> {
    let asked = asked.map(str::trim).filter(|code| !code.is_empty());
    match asked {
        Some(code) if principal.sees_office(code) => Ok(code.to_owned()),
        Some(_) => Err(AppError::not_found("office")),
        None => principal
            .office_codes
            .first()
            .cloned()
            .ok_or_else(|| AppError::not_found("office")),
    }
}

/// The caller's open drawer at an office, as the drawer page and the dashboard show it.
#[derive(Clone, Debug)]
pub struct MyDrawer {
    pub id: Uuid,
    pub office_code: String,
    pub opened_at: DateTime<Utc>,
    /// The change fund, KHR then USD.
    pub float: Vec<Money>,
    pub float_denominations: Vec<Denomination>,
    /// What the drawer should hold now: float + cash receipts - voided, KHR then USD.
    pub expected: Vec<Money>,
    /// Receipts that still stand.
    pub receipts: i64,
    /// Still open after midnight (Cambodia) of the day it was opened.
    pub overdue: bool,
}

fn both(amounts: PerCurrency) -> Vec<Money> {
    CURRENCIES
        .iter()
        .map(|&currency| Money::from_minor(amounts.get(currency), currency))
        .collect()
}

/// The caller's open drawer at `office` with its running sums, if they have one.
pub async fn my_open_drawer(
    conn: &mut PgConnection,
    principal: &Principal,
    office: &str,
) -> Result<Option<MyDrawer>, AppError> {
    let rows = db::cashier::list_sessions(
        conn,
        &db::cashier::SessionFilter {
            offices: None,
            office_code: Some(office),
            status: Some("open"),
            cashier: Some(caller_id(principal)),
            rows: 1,
        },
    )
    .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let totals = db::cashier::session_totals(conn, row.id).await?;
    let receipts = db::counter::standing_receipts(conn, row.id).await?;
    let float = PerCurrency {
        khr: row.float_khr_minor,
        usd: row.float_usd_minor,
    };
    let expected = float
        .plus(PerCurrency {
            khr: totals.receipts_khr,
            usd: totals.receipts_usd,
        })?
        .minus(PerCurrency {
            khr: totals.voided_khr,
            usd: totals.voided_usd,
        })?;
    let drawer = Drawer::from_row(row, Utc::now())?;
    Ok(Some(MyDrawer {
        id: drawer.id,
        office_code: drawer.office_code,
        opened_at: drawer.opened_at,
        float: both(float),
        float_denominations: drawer.opening_denominations,
        expected: both(expected),
        receipts,
        overdue: drawer.overdue,
    }))
}

/// The drawer page: the person's open drawer at the office, or none (then the page offers
/// the opening form).
#[derive(Clone, Debug)]
pub struct DrawerPage {
    pub office_code: String,
    pub drawer: Option<MyDrawer>,
}

/// `/console/drawer`.
#[tracing::instrument(skip_all)]
pub async fn drawer_page(
    state: &AppState,
    principal: &Principal,
    office: Option<&str>,
) -> Result<DrawerPage, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let office_code = counter_office(principal, office)?;
    let mut conn = state.pool.acquire().await?;
    let drawer = my_open_drawer(&mut conn, principal, &office_code).await?;
    Ok(DrawerPage {
        office_code,
        drawer,
    })
}

/// One line of the float count: how many notes of one value.
#[derive(Clone, Debug)]
pub struct CountRow {
    pub currency: Currency,
    /// The note's face value (riel, or whole dollars).
    pub value: i64,
    /// The form field (`khr_500`, `usd_20`).
    pub field: String,
    /// As typed (kept on a re-shown form).
    pub text: String,
    pub count: i64,
    /// Not a whole number from 0 to 1,000,000.
    pub invalid: bool,
    /// value x count in the note's currency.
    pub subtotal: Money,
}

/// A float counted by denomination, as the opening form sends it, with the sums the server
/// made of it (the page never adds money in script).
#[derive(Clone, Debug)]
pub struct FloatCount {
    pub rows: Vec<CountRow>,
    /// KHR then USD; zero while a row is invalid.
    pub totals: Vec<Money>,
}

impl FloatCount {
    /// The empty form: every note of [`KHR_NOTES`] and [`USD_NOTES`] at 0.
    pub fn empty() -> FloatCount {
        FloatCount::read(&[])
    }

    /// Reads the form's `khr_{value}` / `usd_{value}` fields: blank is 0.
    pub fn read(fields: &[(String, String)]) -> FloatCount {
        let notes = KHR_NOTES
            .iter()
            .map(|&value| (Currency::Khr, value))
            .chain(USD_NOTES.iter().map(|&value| (Currency::Usd, value)));
        let rows: Vec<CountRow> = notes
            .map(|(currency, value)| {
                let field = format!("{}_{value}", currency.code().to_ascii_lowercase());
                let text = fields
                    .iter()
                    .find(|(name, _)| *name == field)
                    .map(|(_, text)| text.trim().to_owned())
                    .unwrap_or_default();
                let parsed = if text.is_empty() {
                    Some(0)
                } else {
                    text.parse::<i64>()
                        .ok()
                        .filter(|count| (0..=1_000_000).contains(count))
                };
                let count = parsed.unwrap_or(0);
                let minor_per_note = match currency {
                    Currency::Khr => value,
                    Currency::Usd => value * 100,
                };
                CountRow {
                    currency,
                    value,
                    field,
                    text,
                    count,
                    invalid: parsed.is_none(),
                    subtotal: Money::from_minor(minor_per_note.saturating_mul(count), currency),
                }
            })
            .collect();
        let totals =
            sum_denominations(&denominations_of(&rows), "denominations").unwrap_or_default();
        FloatCount {
            rows,
            totals: both(totals),
        }
    }

    pub fn has_problems(&self) -> bool {
        self.rows.iter().any(|row| row.invalid)
    }

    /// The counted notes (those with a count) as the drawer stores them.
    pub fn denominations(&self) -> Vec<Denomination> {
        denominations_of(&self.rows)
    }
}

fn denominations_of(rows: &[CountRow]) -> Vec<Denomination> {
    rows.iter()
        .filter(|row| !row.invalid && row.count > 0)
        .map(|row| Denomination {
            currency: row.currency.code().to_owned(),
            value: row.value,
            count: row.count,
        })
        .collect()
}

/// Opens the caller's drawer at `office` with the float the count adds up to (the drawer's
/// own [`open`]: one open drawer per cashier and office).
#[tracing::instrument(skip_all)]
pub async fn open_counted(
    state: &AppState,
    principal: &Principal,
    office: Option<&str>,
    count: &FloatCount,
) -> Result<Drawer, AppError> {
    if let Some(row) = count.rows.iter().find(|row| row.invalid) {
        return Err(AppError::validation(
            &row.field,
            "a count must be a whole number from 0 to 1000000",
        ));
    }
    let office_code = counter_office(principal, office)?;
    open(
        state,
        principal,
        OpenRequest {
            office_code,
            opening_float: count.totals.iter().copied().map(MoneyView::from).collect(),
            denominations: Some(count.denominations()),
        },
    )
    .await
}

/// An intent as the counter lists it.
#[derive(Clone, Debug)]
pub struct CounterCase {
    pub id: Uuid,
    pub status: IntentStatus,
    pub case_reference: String,
    pub payer_name: Option<String>,
    /// The services by name, Khmer and English.
    pub services: Vec<(String, String)>,
    /// Each service's amount, beside [`CounterCase::services`].
    pub amounts: Vec<Money>,
    pub total: Money,
    pub receipt_number: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl CounterCase {
    fn of(intent: CounterIntent) -> Result<CounterCase, AppError> {
        let amounts = intent
            .lines
            .iter()
            .map(|line| line.amount.parse("amount"))
            .collect::<Result<_, _>>()?;
        Ok(CounterCase {
            id: intent.id,
            status: intent.status,
            case_reference: intent.case_reference,
            payer_name: intent.payer_name.filter(|name| !name.trim().is_empty()),
            services: intent
                .lines
                .iter()
                .map(|line| (line.description_km.clone(), line.description_en.clone()))
                .collect(),
            amounts,
            total: intent.total.parse("total")?,
            receipt_number: intent.receipt_number,
            created_at: intent.created_at,
        })
    }
}

/// The take-payment page: what the search found, and today's open intents of the office.
#[derive(Clone, Debug)]
pub struct TakeSearch {
    pub office_code: String,
    /// The search as typed (`None`: no search).
    pub q: Option<String>,
    pub found: Vec<CounterCase>,
    /// Awaiting payment, created today (Cambodia), newest first.
    pub today: Vec<CounterCase>,
    /// Whether the person has an open drawer here (taking cash needs one).
    pub drawer_open: bool,
}

/// `/console/take`: finds a case by registration code or the slip's scanned pay link
/// ([`lookup`]), beside the office's open intents of today.
#[tracing::instrument(skip_all)]
pub async fn take_search(
    state: &AppState,
    principal: &Principal,
    office: Option<&str>,
    q: Option<&str>,
) -> Result<TakeSearch, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let office_code = counter_office(principal, office)?;
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    let found = match q {
        Some(q) => lookup(state, principal, Some(&office_code), Some(q)).await?,
        None => Vec::new(),
    };
    let today = lookup(state, principal, Some(&office_code), None).await?;
    let mut conn = state.pool.acquire().await?;
    let drawer_open = my_open_drawer(&mut conn, principal, &office_code)
        .await?
        .is_some();
    Ok(TakeSearch {
        office_code,
        q: q.map(str::to_owned),
        found: found
            .into_iter()
            .map(CounterCase::of)
            .collect::<Result<_, _>>()?,
        today: today
            .into_iter()
            .map(CounterCase::of)
            .collect::<Result<_, _>>()?,
        drawer_open,
    })
}

/// The take-payment form of one intent.
#[derive(Clone, Debug)]
pub struct TakeForm {
    pub office_code: String,
    pub case: CounterCase,
    /// The caller's open drawer at the intent's office (none: open one first).
    pub drawer_id: Option<Uuid>,
}

impl TakeForm {
    pub fn currency(&self) -> Currency {
        self.case.total.currency()
    }
}

/// `/console/take/{intent_id}`: an intent of the caller's offices (404 otherwise).
#[tracing::instrument(skip_all, fields(payment_intent.id = %intent_id))]
pub async fn take_form(
    state: &AppState,
    principal: &Principal,
    intent_id: Uuid,
) -> Result<TakeForm, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let intent = db::counter::counter_intent(&mut conn, principal.office_filter(), intent_id)
        .await?
        .ok_or_else(|| AppError::not_found("payment intent"))?;
    let office_code = intent.office_code.clone();
    let drawer = my_open_drawer(&mut conn, principal, &office_code).await?;
    let total = MoneyView::from_row(intent.total_minor, &intent.currency)?;
    let case = CounterCase::of(CounterIntent {
        id: intent.id,
        status: intent.status,
        office_code: intent.office_code,
        case_reference: intent.case_reference,
        payer_name: intent.payer_name,
        total,
        receipt_number: intent.receipt_number,
        lines: intent.lines.0,
        created_at: intent.created_at,
        expires_at: intent.expires_at,
    })?;
    Ok(TakeForm {
        office_code,
        case,
        drawer_id: drawer.map(|drawer| drawer.id),
    })
}

/// Why the counter did not take the cash: the form is shown again, naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TakeProblem {
    /// Nothing typed, or not an amount in the intent's currency (whole riel; dollars and cents).
    Format,
    /// Less than due.
    Short { tendered: Money, due: Money },
    /// Paid a moment ago (another cashier, or a bank): take no money; its receipt.
    AlreadyPaid { receipt_number: Option<String> },
    /// Cancelled or expired: nothing to pay.
    NotPayable,
    /// The person has no open drawer at the intent's office.
    NoDrawer,
}

/// What the take-payment form's post came to.
#[derive(Clone, Debug)]
pub enum TakeOutcome {
    /// Recorded (or, for a replayed idempotency key, recorded before): its receipt.
    Taken(Box<CashReceipt>),
    /// Nothing recorded.
    Refused {
        form: Box<TakeForm>,
        problem: TakeProblem,
    },
}

/// What a person types as an amount: spaces and the currency sign are how people write
/// money, not part of it, and so are thousands separators (a comma before three digits). Any
/// other comma stays, and the amount does not read: `12,50` is not taken as 1,250.
fn typed_amount(text: &str) -> String {
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '$' | '៛'))
        .collect();
    let mut parts = plain.split(',');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let digits = part.split('.').next().unwrap_or_default();
        if digits.len() == 3 && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            out.push_str(part);
        } else {
            out.push(',');
            out.push_str(part);
        }
    }
    out
}

/// Takes cash for the intent at the caller's open drawer of its office ([`take_cash`],
/// idempotent by the form's key). Refusals the cashier can act on come back as
/// [`TakeOutcome::Refused`] with the form to show again; nothing is recorded then.
#[tracing::instrument(skip_all, fields(payment_intent.id = %intent_id))]
pub async fn take_at_counter(
    state: &AppState,
    principal: &Principal,
    intent_id: Uuid,
    idempotency_key: &str,
    tendered: &str,
) -> Result<TakeOutcome, AppError> {
    let form = take_form(state, principal, intent_id).await?;
    let refused = |form: TakeForm, problem| {
        Ok(TakeOutcome::Refused {
            form: Box::new(form),
            problem,
        })
    };
    let due = form.case.total;
    let amount = typed_amount(tendered);
    let Ok(money) = Money::parse(&amount, due.currency()) else {
        return refused(form, TakeProblem::Format);
    };
    if money.is_negative() {
        return refused(form, TakeProblem::Format);
    }
    let Some(drawer_id) = form.drawer_id else {
        // A paid case says so first: there is nothing to take, drawer or not.
        if form.case.status == IntentStatus::Paid {
            let receipt_number = form.case.receipt_number.clone();
            return refused(form, TakeProblem::AlreadyPaid { receipt_number });
        }
        return refused(form, TakeProblem::NoDrawer);
    };
    let body = json!({"payment_intent_id": intent_id, "tendered": MoneyView::from(money)});
    let hash = request_hash(
        "POST",
        &format!("/console/take/{intent_id}"),
        body.to_string().as_bytes(),
    );
    let request = TakeCashRequest {
        payment_intent_id: intent_id,
        tendered: money.into(),
    };
    match take_cash(state, principal, drawer_id, idempotency_key, &hash, request).await {
        Ok(receipt) if receipt.number.is_some() => Ok(TakeOutcome::Taken(Box::new(receipt))),
        Ok(receipt) => {
            // A replayed double click can arrive between the first click's commit and its
            // numbering: number the office's payments (what the first click is doing) and
            // read the receipt again, so both clicks land on the same numbered receipt.
            state
                .receipts
                .after_payment(&state.pool, &receipt.office_code)
                .await;
            let mut conn = state.pool.acquire().await?;
            let line = db::cashier::receipt(&mut conn, receipt.id)
                .await?
                .ok_or_else(|| AppError::internal("a cash receipt just taken is gone"))?;
            Ok(TakeOutcome::Taken(Box::new(CashReceipt::from_line(line)?)))
        }
        Err(error) => {
            let Some(code) = error.refusal().map(|refusal| refusal.code) else {
                return Err(error);
            };
            let problem = match code {
                "already_paid" => TakeProblem::AlreadyPaid {
                    receipt_number: error
                        .refusal()
                        .and_then(|refusal| refusal.details.get("receipt_number"))
                        .and_then(|number| number.as_str())
                        .map(str::to_owned),
                },
                "tender_short" => TakeProblem::Short {
                    tendered: money,
                    due,
                },
                "tender_currency" | "validation_failed" => TakeProblem::Format,
                "invalid_state" => TakeProblem::NotPayable,
                "drawer_closed" => TakeProblem::NoDrawer,
                _ => return Err(error),
            };
            // The case as it stands now (paid by someone else, say).
            let form = take_form(state, principal, intent_id).await?;
            refused(form, problem)
        }
    }
}

/// A receipt as the console prints it: the citizen's receipt, with what the counter adds.
pub struct CounterReceipt {
    pub receipt: Receipt,
    /// The cash receipt's cashier, tendered and change (none for an online payment).
    pub cash: Option<CashReceipt>,
    /// Which print this is (1: the first).
    pub print: i32,
    /// Marked "COPY / ច្បាប់ចម្លង": any print after the first, and every online receipt.
    pub copy: bool,
}

/// `/console/receipts/{number}`: prints receipt `number` of an office the caller works at
/// (404 otherwise) and counts the print in the same transaction as its audit line: the first
/// print of a cash receipt is the original, every later one a copy.
#[tracing::instrument(skip_all)]
pub async fn print_receipt(
    state: &AppState,
    principal: &Principal,
    number: &str,
) -> Result<CounterReceipt, AppError> {
    principal.require(&DRAWER_ROLES)?;
    if !receipt_pages::well_formed(number) {
        return Err(AppError::not_found("receipt"));
    }
    let mut tx = state.pool.begin().await?;
    let row = db::receipt_views::receipt_by_number(&mut tx, number)
        .await?
        .filter(|row| principal.sees_office(&row.office_code))
        .ok_or_else(|| AppError::not_found("receipt"))?;
    let holder = db::cashier::number_holder(&mut tx, number).await?;
    let cash = match holder.and_then(|holder| holder.cash_receipt_id) {
        Some(id) => db::cashier::receipt(&mut tx, id)
            .await?
            .map(CashReceipt::from_line)
            .transpose()?,
        None => None,
    };
    let user_id = principal.staff.as_ref().map(|staff| staff.user_id);
    let print = db::counter::record_print(&mut tx, number, &row.office_code, user_id).await?;
    let copy = print > 1 || cash.is_none();
    staff::record(
        &mut tx,
        principal,
        if copy {
            "receipt_reprint"
        } else {
            "receipt_print"
        },
        Some(&row.office_code),
        Some(number),
        json!({"print": print, "copy": copy}),
    )
    .await?;
    let receipt = receipt_pages::receipt_of_row(state, row)?;
    tx.commit().await?;
    Ok(CounterReceipt {
        receipt,
        cash,
        print,
        copy,
    })
}

/// The receipts page: today's receipts of the caller's drawers at the office.
#[derive(Clone, Debug)]
pub struct MyReceipts {
    pub office_code: String,
    pub drawer: Option<MyDrawer>,
    /// Newest first.
    pub receipts: Vec<CashReceipt>,
}

/// Drawers of one cashier a day holds at most (a drawer is opened once a day, more only after
/// a close).
const DRAWERS_A_DAY: i64 = 20;

/// `/console/receipts`: the receipts of the caller's drawers at the office that are open or
/// were opened today (Cambodia), newest first.
#[tracing::instrument(skip_all)]
pub async fn my_receipts(
    state: &AppState,
    principal: &Principal,
    office: Option<&str>,
) -> Result<MyReceipts, AppError> {
    principal.require(&DRAWER_ROLES)?;
    let office_code = counter_office(principal, office)?;
    let since = start_of_cambodian_day(Utc::now())?;
    let mut conn = state.pool.acquire().await?;
    let drawers = db::cashier::list_sessions(
        &mut conn,
        &db::cashier::SessionFilter {
            offices: None,
            office_code: Some(&office_code),
            status: None,
            cashier: Some(caller_id(principal)),
            rows: DRAWERS_A_DAY,
        },
    )
    .await?;
    let mut receipts = Vec::new();
    for drawer in drawers
        .iter()
        .filter(|drawer| drawer.status == "open" || drawer.opened_at >= since)
    {
        for line in db::cashier::receipts_of_session(&mut conn, drawer.id).await? {
            receipts.push(CashReceipt::from_line(line)?);
        }
    }
    receipts.sort_by_key(|receipt| std::cmp::Reverse(receipt.issued_at));
    let drawer = my_open_drawer(&mut conn, principal, &office_code).await?;
    Ok(MyReceipts {
        office_code,
        drawer,
        receipts,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn a_float_count_adds_up_on_the_server_per_currency() {
        let count = FloatCount::read(&fields(&[
            ("khr_10000", "5"),
            ("khr_500", " 4 "),
            ("usd_20", "2"),
            ("usd_1", ""),
        ]));
        assert!(!count.has_problems());
        assert_eq!(
            count.totals,
            vec![
                Money::from_minor(52_000, Currency::Khr),
                Money::from_minor(4_000, Currency::Usd)
            ]
        );
        assert_eq!(count.denominations().len(), 3);
        assert_eq!(count.rows.len(), KHR_NOTES.len() + USD_NOTES.len());
    }

    #[test]
    fn a_count_that_is_not_a_whole_number_is_named() {
        let count = FloatCount::read(&fields(&[("khr_100", "2.5"), ("usd_5", "-1")]));
        assert!(count.has_problems());
        let bad: Vec<&str> = count
            .rows
            .iter()
            .filter(|row| row.invalid)
            .map(|row| row.field.as_str())
            .collect();
        assert_eq!(bad, ["khr_100", "usd_5"]);
    }

    #[test]
    fn typed_amounts_drop_what_people_write_around_money() {
        assert_eq!(typed_amount("600,000 ៛"), "600000");
        assert_eq!(typed_amount("$12.50"), "12.50");
        assert_eq!(typed_amount("1,000,000"), "1000000");
        assert_eq!(typed_amount("1,250.50"), "1250.50");
        assert_eq!(typed_amount("12,50"), "12,50");
    }
}
