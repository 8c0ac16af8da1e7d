//! The citizen's receipt (`/receipts/{number}?t=...`), printable on A5 or an 80 mm roll, and
//! the page its verification QR opens (`/verify/{number}?...`). Both answer HTML; anything
//! unknown or malformed is the plain not-found page (or, for a verification, "does not
//! verify"), never a problem document or a 5xx. app::receipt_pages says how the addresses are
//! protected.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;

use super::web::{self, format, Caching, Lang, PageRequest};
use crate::app::error::AppError;
use crate::app::receipt_pages::{self, Receipt, ReceiptClaim, Standing, Verdict};
use crate::state::AppState;

/// The routes of this module (merged into the main router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/receipts/{receipt_number}", get(get_receipt_page))
        .route("/verify/{receipt_number}", get(get_verify_page))
}

/// The first value of `name` in a query string (absent, empty or undecodable: `None`).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// How a payment channel reads on a receipt.
fn channel_label(lang: Lang, channel: Option<&str>) -> &'static str {
    match channel {
        Some("khqr") => "KHQR (Bakong)",
        Some("aba_payway") => "ABA PayWay",
        Some("acleda_xpay") => "ACLEDA XPAY",
        Some("wing") => "Wing",
        Some("cash") => lang.pick("សាច់ប្រាក់", "Cash"),
        Some("sandbox") => lang.pick("ធនាគារសាកល្បង", "Test bank (sandbox)"),
        _ => "-",
    }
}

/// The paper a receipt is laid out for (`?paper=80mm`; A5 otherwise).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Paper {
    A5,
    Roll80,
}

impl Paper {
    fn from_query(query: Option<&str>) -> Paper {
        match query_param(query, "paper").as_deref() {
            Some("80mm") => Paper::Roll80,
            _ => Paper::A5,
        }
    }

    /// The class that names the `@page` the stylesheet prints it on.
    fn class(self) -> &'static str {
        match self {
            Paper::A5 => "paper-a5",
            Paper::Roll80 => "paper-80mm",
        }
    }
}

struct LineView {
    description: String,
    quantity: i64,
    amount: String,
}

struct QrView {
    url: String,
    data_uri: String,
}

/// What the console adds to a receipt it prints (`/console/receipts/{number}`): the same page,
/// with the cashier, the cash handed over and given back, and the COPY mark on reprints.
pub(super) struct CounterView {
    /// "COPY / ច្បាប់ចម្លង" across the top, on screen and in print.
    pub copy: bool,
    pub cashier: Option<String>,
    pub tendered: Option<String>,
    pub change: Option<String>,
    /// Voided receipts are not given change again.
    pub show_change: bool,
}

#[derive(Template)]
#[template(path = "receipt.html")]
pub(super) struct ReceiptPage<'a> {
    page: &'a PageRequest,
    number: String,
    office_name_km: String,
    office_name_en: String,
    office_code: String,
    case_reference: String,
    payer_name: Option<String>,
    lines: Vec<LineView>,
    total: String,
    channel: &'static str,
    paid_at: String,
    qr: Option<QrView>,
    paper_class: &'static str,
    /// Voided by the office: the page says it no longer proves a payment.
    void: bool,
    /// The same receipt laid out for the other paper (keeps `t`).
    a5_href: String,
    roll_href: String,
    /// Printed from the console.
    counter: Option<CounterView>,
}

impl<'a> ReceiptPage<'a> {
    fn new(
        page: &'a PageRequest,
        receipt: Receipt,
        paper: Paper,
        tag: &str,
    ) -> Result<ReceiptPage<'a>, AppError> {
        let base = format!("/receipts/{}?t={tag}", receipt.number);
        ReceiptPage::build(page, receipt, paper, base, '&', None)
    }

    /// The receipt as the console prints it: the citizen's layout, at the console's address.
    pub(super) fn for_console(
        page: &'a PageRequest,
        receipt: Receipt,
        paper_80mm: bool,
        counter: CounterView,
    ) -> Result<ReceiptPage<'a>, AppError> {
        let base = format!("/console/receipts/{}", receipt.number);
        let paper = if paper_80mm { Paper::Roll80 } else { Paper::A5 };
        ReceiptPage::build(page, receipt, paper, base, '?', Some(counter))
    }

    fn build(
        page: &'a PageRequest,
        receipt: Receipt,
        paper: Paper,
        base: String,
        joiner: char,
        counter: Option<CounterView>,
    ) -> Result<ReceiptPage<'a>, AppError> {
        let qr = match receipt.verify_url {
            Some(url) => {
                // Inline, so the printed page needs no second request (CSP allows data:
                // images). A PNG: a few kB where the SVG's one rectangle per module is ~30 kB,
                // and at 8 px a module it prints sharp at the receipt's 3 cm.
                let png = crate::app::qr_image::png(&url)?;
                let data_uri = format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(png)
                );
                Some(QrView { url, data_uri })
            }
            None => None,
        };
        let lang = page.lang;
        let lines = receipt
            .lines
            .iter()
            .map(|line| LineView {
                description: lang
                    .pick(&line.description_km, &line.description_en)
                    .to_owned(),
                quantity: line.quantity,
                amount: line.amount.parse("amount").map_or_else(
                    |_| line.amount.amount.clone(),
                    |money| format::money(&money),
                ),
            })
            .collect();
        Ok(ReceiptPage {
            page,
            roll_href: format!("{base}{joiner}paper=80mm"),
            a5_href: base,
            counter,
            number: receipt.number,
            office_name_km: receipt.office_name_km,
            office_name_en: receipt.office_name_en,
            office_code: receipt.office_code,
            case_reference: receipt.case_reference,
            payer_name: receipt.payer_name,
            lines,
            total: format::money(&receipt.total),
            channel: channel_label(lang, receipt.channel.as_deref()),
            paid_at: receipt.paid_at.format("%Y-%m-%d %H:%M").to_string(),
            qr,
            paper_class: paper.class(),
            void: receipt.standing == Standing::Void,
        })
    }
}

/// The page for an error: "not found" in this page's words, else the pages' error page (a
/// database that is down is 503 with Retry-After, in the person's language).
fn error_page(page: &PageRequest, error: AppError, what_km: &str, what_en: &str) -> Response {
    match error {
        AppError::NotFound(_) => web::not_found(page, what_km, what_en),
        other => web::error_page(page, other),
    }
}

const RECEIPT_NOT_FOUND_KM: &str = "រកមិនឃើញបង្កាន់ដៃនេះទេ។ សូមបើកតំណដែលទំព័របង់ប្រាក់របស់អ្នកបានផ្ដល់ឱ្យ។";
const RECEIPT_NOT_FOUND_EN: &str =
    "We could not find this receipt. Open the link your payment page gave you.";

#[utoipa::path(get, path = "/receipts/{receipt_number}", tag = "citizens",
    params(
        ("receipt_number" = String, Path, description = "The receipt number, e.g. `0320-2026-000001`"),
        ("t" = String, Query, description = "The receipt's tag: the link's proof that it was given out by the service (the pay page links with it)"),
        ("paper" = Option<String>, Query, description = "`80mm` lays the receipt out for an 80 mm thermal roll; A5 otherwise"),
        ("lang" = Option<String>, Query, description = "`km` (default) or `en`; remembered for the session"),
    ),
    responses(
        (status = 200, description = "HTML receipt: office, case, payer, lines, total, channel, time, number and a verification QR", content_type = "text/html"),
        (status = 404, description = "HTML not-found page: unknown number, or a missing or wrong `t`", content_type = "text/html"),
    ))]
pub async fn get_receipt_page(
    State(state): State<AppState>,
    page: PageRequest,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(Path(number)) = path else {
        return web::not_found(&page, RECEIPT_NOT_FOUND_KM, RECEIPT_NOT_FOUND_EN);
    };
    let tag = query_param(query.as_deref(), "t");
    let receipt = match receipt_pages::receipt(&state, &number, tag.as_deref()).await {
        Ok(receipt) => receipt,
        Err(error) => return error_page(&page, error, RECEIPT_NOT_FOUND_KM, RECEIPT_NOT_FOUND_EN),
    };
    let paper = Paper::from_query(query.as_deref());
    match ReceiptPage::new(&page, receipt, paper, tag.as_deref().unwrap_or_default()) {
        Ok(view) => web::render(&page, StatusCode::OK, &view, Caching::Private),
        Err(error) => error_page(&page, error, RECEIPT_NOT_FOUND_KM, RECEIPT_NOT_FOUND_EN),
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage<'a> {
    page: &'a PageRequest,
    /// `verified`, `void` or `not-verified` (also the `data-result` browser tests read).
    result: &'static str,
    number: String,
    total: String,
    office_name: String,
    office_code: String,
    date: String,
}

impl<'a> VerifyPage<'a> {
    fn new(page: &'a PageRequest, verdict: Verdict) -> VerifyPage<'a> {
        match verdict {
            Verdict::Verified {
                standing,
                number,
                total,
                office_code,
                office_name_km,
                office_name_en,
                date,
            } => VerifyPage {
                page,
                result: match standing {
                    Standing::Valid => "verified",
                    Standing::Void => "void",
                },
                number,
                total: format::money(&total),
                office_name: page.lang.pick(&office_name_km, &office_name_en).to_owned(),
                office_code,
                date: date.format("%Y-%m-%d").to_string(),
            },
            Verdict::NotVerified => VerifyPage {
                page,
                result: "not-verified",
                number: String::new(),
                total: String::new(),
                office_name: String::new(),
                office_code: String::new(),
                date: String::new(),
            },
        }
    }
}

#[utoipa::path(get, path = "/verify/{receipt_number}", tag = "citizens",
    params(
        ("receipt_number" = String, Path, description = "The receipt number"),
        ("a" = String, Query, description = "The amount the receipt shows, as the API writes amounts (`600000`, `12.00`)"),
        ("c" = String, Query, description = "Its currency (`KHR`, `USD`)"),
        ("o" = String, Query, description = "The office code"),
        ("d" = String, Query, description = "The Cambodian date of payment, `YYYY-MM-DD`"),
        ("s" = String, Query, description = "base64url Ed25519 signature, by the ledger's signing key, of `owso-pay receipt v1`, number, amount, currency, office and date, one a line"),
        ("lang" = Option<String>, Query, description = "`km` (default) or `en`"),
    ),
    responses(
        (status = 200, description = "HTML: the receipt is genuine (number, amount, office, date; nothing personal), or it was voided", content_type = "text/html"),
        (status = 404, description = "HTML: the receipt does NOT verify (forged, altered or unknown)", content_type = "text/html"),
    ))]
pub async fn get_verify_page(
    State(state): State<AppState>,
    page: PageRequest,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.as_deref();
    let claim = ReceiptClaim {
        number: path.map(|Path(number)| number).unwrap_or_default(),
        amount: query_param(query, "a").unwrap_or_default(),
        currency: query_param(query, "c").unwrap_or_default(),
        office: query_param(query, "o").unwrap_or_default(),
        date: query_param(query, "d").unwrap_or_default(),
        signature: query_param(query, "s").unwrap_or_default(),
    };
    let verdict = match receipt_pages::verify(&state, &claim).await {
        Ok(verdict) => verdict,
        Err(error) => return web::error_page(&page, error),
    };
    // A receipt that does not verify does not exist, as far as the service knows.
    let status = match verdict {
        Verdict::Verified { .. } => StatusCode::OK,
        Verdict::NotVerified => StatusCode::NOT_FOUND,
    };
    web::render(
        &page,
        status,
        &VerifyPage::new(&page, verdict),
        Caching::Private,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn page(uri: &str) -> PageRequest {
        PageRequest::for_uri(uri)
    }

    #[test]
    fn a_void_receipt_reads_as_void_in_both_languages() {
        for (uri, words) in [("/verify/x", "ត្រូវបានលុបចោល"), ("/verify/x?lang=en", "VOID")]
        {
            let page = page(uri);
            let verdict = Verdict::Verified {
                standing: Standing::Void,
                number: "0320-2026-000001".to_owned(),
                total: ledger::Money::from_minor(600_000, ledger::Currency::Khr),
                office_code: "0320".to_owned(),
                office_name_km: "ការិយាល័យ".to_owned(),
                office_name_en: "Office".to_owned(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
            };
            let html = VerifyPage::new(&page, verdict).render().unwrap();
            assert!(html.contains(r#"data-result="void""#), "{html}");
            assert!(html.contains(words), "{uri}: {html}");
            assert!(html.contains("600,000 ៛"));
        }
    }
}
