//! A case's payment status for anyone holding the office and the registration code printed on
//! the case slip: its state, total and receipt number, nothing personal (no payer, no link to
//! the receipt, whose address needs its own tag).

use ledger::Money;

use super::error::AppError;
use super::money;
use super::states::IntentStatus;
use crate::db;
use crate::state::AppState;

/// Longest registration code stored (0002's check on `case_reference`).
const MAX_CASE_REFERENCE_CHARS: usize = 64;

/// An office a citizen may pick.
pub struct OfficeChoice {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
}

/// A province and its offices, in the order the list shows them.
pub struct Province {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
    pub offices: Vec<OfficeChoice>,
}

/// What the person asked (the form's fields as they came).
#[derive(Debug, Default)]
pub struct StatusQuery {
    pub office: Option<String>,
    pub code: Option<String>,
}

/// Which field of the form is missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Missing {
    pub office: bool,
    pub code: bool,
}

/// A case's payment as the status page shows it.
pub struct CaseStatus {
    pub case_reference: String,
    pub office_code: String,
    pub office_name_km: String,
    pub office_name_en: String,
    pub status: IntentStatus,
    pub total: Money,
    pub receipt_number: Option<String>,
}

/// The status page: the form (first visit, or a field left empty), or the case found.
pub enum StatusPage {
    Form {
        provinces: Vec<Province>,
        /// Empty fields of a submitted form (none on a first visit).
        missing: Missing,
        /// What was typed, to fill the form again.
        office: String,
        code: String,
    },
    Found(CaseStatus),
}

/// Answers the status page. An unknown office or code is "not found" (the same answer for
/// both, so the page confirms nothing about which cases exist at which office).
#[tracing::instrument(skip_all)]
pub async fn status_page(state: &AppState, query: StatusQuery) -> Result<StatusPage, AppError> {
    let office = query.office.unwrap_or_default().trim().to_owned();
    let code = query.code.unwrap_or_default().trim().to_owned();
    let mut conn = state.pool.acquire().await?;
    if office.is_empty() || code.is_empty() {
        let asked = !(office.is_empty() && code.is_empty());
        return Ok(StatusPage::Form {
            provinces: provinces(&mut conn).await?,
            missing: Missing {
                office: asked && office.is_empty(),
                code: asked && code.is_empty(),
            },
            office,
            code,
        });
    }
    // What no office or case can be named is not looked up: office codes are 1 to 8 letters
    // or digits (0002's check), and a code with a control character (NUL, which PostgreSQL
    // refuses in text) or longer than any stored one matches nothing.
    let office_plain = office.len() <= 8 && office.chars().all(|c| c.is_ascii_alphanumeric());
    let code_plain =
        code.chars().count() <= MAX_CASE_REFERENCE_CHARS && !code.chars().any(char::is_control);
    if !office_plain || !code_plain {
        return Err(AppError::not_found("case"));
    }
    let row = db::receipt_views::case_status(&mut conn, &office, &code)
        .await?
        .ok_or_else(|| AppError::not_found("case"))?;
    Ok(StatusPage::Found(CaseStatus {
        total: money::from_row(row.total_minor, &row.currency)?,
        case_reference: code,
        office_code: office,
        office_name_km: row.office_name_km,
        office_name_en: row.office_name_en,
        status: row.status,
        receipt_number: row.receipt_number,
    }))
}

/// The offices that serve a province, grouped by it.
async fn provinces(conn: &mut sqlx::PgConnection) -> Result<Vec<Province>, AppError> {
    let rows = db::offices::by_province(conn).await?;
    let mut provinces: Vec<Province> = Vec::new();
    for row in rows {
        let office = OfficeChoice {
            code: row.code,
            name_km: row.name_km,
            name_en: row.name_en,
        };
        // Rows come ordered by province, so a new province starts a new group.
        match provinces.last_mut() {
            Some(province) if province.code == row.province_code => province.offices.push(office),
            _ => provinces.push(Province {
                code: row.province_code,
                name_km: row.province_km,
                name_en: row.province_en,
                offices: vec![office],
            }),
        }
    }
    Ok(provinces)
}
