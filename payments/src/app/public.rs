//! What a citizen holding a payment link may see: their own payment and nothing else.

use super::attempts::AttemptRow;
use super::intents::IntentRow;
use crate::app::error::AppError;
use crate::db;
use crate::state::AppState;

/// Attempts the citizen's view lists: the latest ones.
pub const PUBLIC_ATTEMPTS: i64 = 10;

/// A payment as its link shows it.
pub struct PublicPayment {
    pub intent: IntentRow,
    pub office_name_km: String,
    pub office_name_en: String,
    /// The latest [`PUBLIC_ATTEMPTS`], oldest of them first.
    pub attempts: Vec<AttemptRow>,
}

#[tracing::instrument(skip_all, fields(payment_intent.id))]
pub async fn by_token(state: &AppState, token: &str) -> Result<PublicPayment, AppError> {
    if token.len() > 128 || !token.starts_with("pt_") {
        return Err(AppError::not_found("payment"));
    }
    let mut conn = state.pool.acquire().await?;
    // Looked up by the token's SHA-256 (the database holds no token); it is 256 random bits,
    // so a timing difference on the lookup reveals nothing usable.
    let intent = db::intents::find_by_token_hash(&mut conn, &super::secrets::pay_token_hash(token))
        .await?
        .ok_or_else(|| AppError::not_found("payment"))?;
    tracing::Span::current().record("payment_intent.id", tracing::field::display(intent.id));
    let (office_name_km, office_name_en) =
        db::intents::office_names(&mut conn, &intent.office_code).await?;
    // The latest attempts only, oldest of them first: the page shows what the payer can
    // still use, and a row made before attempts were bounded cannot make the page unbounded.
    let attempts = db::attempts::latest_for_intent(&mut conn, intent.id, PUBLIC_ATTEMPTS).await?;
    Ok(PublicPayment {
        intent,
        office_name_km,
        office_name_en,
        attempts,
    })
}

/// The KHQR string of an attempt, for its QR image. Attempt ids carry 74 random bits, and the
/// QR is what the payer is meant to see anyway.
#[tracing::instrument(skip_all, fields(payment_attempt.id = %attempt_id))]
pub async fn attempt_khqr(state: &AppState, attempt_id: uuid::Uuid) -> Result<String, AppError> {
    db::attempts::khqr_of(&state.pool, attempt_id)
        .await?
        .flatten()
        .ok_or_else(|| AppError::not_found("QR code"))
}
