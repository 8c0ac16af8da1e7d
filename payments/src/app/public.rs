//! What a citizen holding a payment link may see: their own payment and nothing else.

use serde::Serialize;
use utoipa::ToSchema;

use super::attempts::{AttemptRow, AttemptView, ATTEMPT_COLUMNS};
use super::intents::{IntentRow, INTENT_COLUMNS};
use super::money::{self, MoneyView};
use super::quotes::QuoteLine;
use super::states::IntentStatus;
use crate::app::error::AppError;
use crate::state::AppState;

/// Attempts the citizen's view lists: the latest ones.
pub const PUBLIC_ATTEMPTS: i64 = 10;

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPaymentView {
    pub status: IntentStatus,
    pub total: MoneyView,
    pub case_reference: String,
    pub office_code: String,
    pub office_name_km: String,
    pub office_name_en: String,
    pub lines: Vec<QuoteLine>,
    pub attempts: Vec<AttemptView>,
    pub receipt_number: Option<String>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn by_token(state: &AppState, token: &str) -> Result<PublicPaymentView, AppError> {
    if token.len() > 128 || !token.starts_with("pt_") {
        return Err(AppError::not_found("payment"));
    }
    let mut conn = state.pool.acquire().await?;
    // Looked up by the token's SHA-256 (the database holds no token); it is 256 random bits,
    // so a timing difference on the lookup reveals nothing usable.
    let intent: Option<IntentRow> = sqlx::query_as(&format!(
        "select {INTENT_COLUMNS} from payment_intents i join quotes q on q.id = i.quote_id where i.pay_token_hash = $1"
    ))
    .bind(super::secrets::pay_token_hash(token))
    .fetch_optional(&mut *conn)
    .await?;
    let intent = intent.ok_or_else(|| AppError::not_found("payment"))?;
    let (office_name_km, office_name_en): (String, String) =
        sqlx::query_as("select name_km, name_en from offices where code = $1")
            .bind(&intent.office_code)
            .fetch_one(&mut *conn)
            .await?;
    // The latest attempts only, oldest of them first: the page shows what the payer can
    // still use, and a row made before attempts were bounded cannot make the page unbounded.
    let attempts: Vec<AttemptRow> = sqlx::query_as(&format!(
        "select * from (select {ATTEMPT_COLUMNS} from payment_attempts where payment_intent_id = $1
                        order by created_at desc, id desc limit {PUBLIC_ATTEMPTS}) latest
         order by created_at, id"
    ))
    .bind(intent.id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(PublicPaymentView {
        status: intent.status,
        total: money::from_row(intent.total_minor, &intent.currency)?.into(),
        case_reference: intent.case_reference.clone(),
        office_code: intent.office_code.clone(),
        office_name_km,
        office_name_en,
        lines: intent.lines.0.clone(),
        attempts: attempts
            .iter()
            .map(|row| row.view(state))
            .collect::<Result<_, _>>()?,
        receipt_number: intent.receipt_number.clone(),
        expires_at: intent.expires_at,
        paid_at: intent.paid_at,
    })
}

/// The KHQR string of an attempt, for its QR image. Attempt ids carry 74 random bits, and the
/// QR is what the payer is meant to see anyway.
pub async fn attempt_khqr(state: &AppState, attempt_id: uuid::Uuid) -> Result<String, AppError> {
    let khqr: Option<Option<String>> =
        sqlx::query_scalar("select khqr from payment_attempts where id = $1")
            .bind(attempt_id)
            .fetch_optional(&state.pool)
            .await?;
    khqr.flatten().ok_or_else(|| AppError::not_found("QR code"))
}
