//! What the citizen's pages read of a payment: a receipt by its number, a case's standing by
//! office and registration code. Reads only.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;

use crate::app::error::AppError;
use crate::app::quotes::QuoteLine;
use crate::app::states::IntentStatus;

/// A numbered (so paid) payment, as its receipt shows it.
pub struct ReceiptRow {
    pub receipt_number: String,
    pub office_code: String,
    pub office_name_km: String,
    pub office_name_en: String,
    pub case_reference: String,
    /// `payer.name` of the intent, when the workflow system gave one.
    pub payer_name: Option<String>,
    pub currency: String,
    pub total_minor: i64,
    pub channel: Option<String>,
    pub paid_at: DateTime<Utc>,
    pub lines: Json<Vec<QuoteLine>>,
    /// When the office voided it (a cash receipt, with a supervisor's approval).
    pub voided_at: Option<DateTime<Utc>>,
}

/// The payment that holds receipt `number`: the paid intent that carries it, or a voided cash
/// receipt that kept it (`cash_receipts.receipt_number`, set by the void: the intent may be
/// paid again under a new number, and the old one stays used, void).
pub async fn receipt_by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<ReceiptRow>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        ReceiptRow,
        r#"select i.receipt_number as "receipt_number!", i.office_code as "office_code!", o.name_km as "office_name_km!",
               o.name_en as "office_name_en!", i.case_reference as "case_reference!", i.payer ->> 'name' as payer_name,
               i.currency as "currency!", i.total_minor as "total_minor!", i.paid_channel as channel, i.paid_at as "paid_at!",
               q.lines as "lines!: Json<Vec<QuoteLine>>", null::timestamptz as voided_at
           from payment_intents i
           join offices o on o.code = i.office_code
           join quotes q on q.id = i.quote_id
           -- Only paid intents are numbered, and a paid intent has its paid_at (0002's check).
           where i.receipt_number = $1 and i.status = 'paid'
           union all
           select r.receipt_number, r.office_code, o.name_km, o.name_en, i.case_reference,
               i.payer ->> 'name', r.currency, r.amount_minor, 'cash', r.created_at, q.lines, r.voided_at
           from cash_receipts r
           join payment_intents i on i.id = r.payment_intent_id
           join offices o on o.code = r.office_code
           join quotes q on q.id = i.quote_id
           where r.receipt_number = $1 and r.voided_at is not null"#,
        number
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// A case's payment as the status page shows it: nothing personal.
pub struct CaseStatusRow {
    pub status: IntentStatus,
    pub currency: String,
    pub total_minor: i64,
    pub receipt_number: Option<String>,
    pub office_name_km: String,
    pub office_name_en: String,
}

/// The payment of case `case_reference` at `office`: the paid one if there is one, else the
/// latest (a case has one open intent at a time; earlier ones were cancelled or expired).
pub async fn case_status(
    conn: &mut PgConnection,
    office: &str,
    case_reference: &str,
) -> Result<Option<CaseStatusRow>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        CaseStatusRow,
        r#"select i.status as "status: IntentStatus", i.currency, i.total_minor, i.receipt_number,
               o.name_km as office_name_km, o.name_en as office_name_en
           from payment_intents i join offices o on o.code = i.office_code
           where i.office_code = $1 and i.case_reference = $2
           order by (i.status = 'paid') desc, i.created_at desc, i.id desc
           limit 1"#,
        office,
        case_reference
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}
