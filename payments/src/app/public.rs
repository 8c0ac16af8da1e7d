//! What a citizen holding a payment link may see and do: their own payment and nothing else;
//! paying it by KHQR from the page; its status, for the page to follow.

use std::time::Duration;

use bank_adapters::bakong::SourceInfo;
use chrono::{DateTime, Utc};
use ledger::Money;
use serde_json::Value;
use uuid::Uuid;

use super::attempts::{self, AttemptCaller, AttemptRow, CreateAttemptRequest};
use super::intents::IntentRow;
use super::pagination::Created;
use super::states::{AttemptStatus, Channel, IntentStatus};
use crate::app::error::AppError;
use crate::db;
use crate::state::AppState;

/// Attempts the citizen's view lists: the latest ones.
pub const PUBLIC_ATTEMPTS: i64 = 10;

/// A KHQR with less time left than this is not offered again by the pay button: a new one is
/// made instead (scanning and confirming in a bank app takes a while).
pub const KHQR_REUSE_MARGIN_S: i64 = 60;

/// How long the page's KHQR button waits for Bakong's deep link before going on without it.
const DEEPLINK_WAIT: Duration = Duration::from_secs(3);

/// A payment as its link shows it.
pub struct PublicPayment {
    pub intent: IntentRow,
    pub office_name_km: String,
    pub office_name_en: String,
    /// The latest [`PUBLIC_ATTEMPTS`], oldest of them first.
    pub attempts: Vec<AttemptRow>,
    /// Every attempt the intent has had, and the most it takes.
    pub attempts_made: i64,
    pub max_attempts: i64,
    /// Whether this service and the office take KHQR.
    pub khqr_offered: bool,
    /// The KHQR to scan now: the latest KHQR attempt, pending and not expired.
    pub current_khqr: Option<ShownKhqr>,
    /// The latest KHQR attempt ran out unpaid (the page offers a new QR).
    pub khqr_expired: bool,
}

/// A KHQR as the payer's bank app will show it: read back from the QR string itself.
pub struct ShownKhqr {
    pub attempt_id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// Tag 59, what the bank app names the payee.
    pub merchant_name: String,
    /// Tag 64's alternate-language name (Khmer), when the QR carries one.
    pub merchant_name_alternate: Option<String>,
    /// Tags 54 and 53, the amount the bank app asks for.
    pub amount: Option<Money>,
    /// A link that opens the QR in a bank app, when Bakong gave one.
    pub deeplink: Option<String>,
}

/// The payment behind a link token; an unknown or malformed token is `NotFound`.
#[tracing::instrument(skip_all, fields(payment_intent.id))]
pub async fn by_token(state: &AppState, token: &str) -> Result<PublicPayment, AppError> {
    let mut conn = state.pool.acquire().await?;
    let intent = intent_by_token(&mut conn, token).await?;
    tracing::Span::current().record("payment_intent.id", tracing::field::display(intent.id));
    let (office_name_km, office_name_en) =
        db::intents::office_names(&mut conn, &intent.office_code).await?;
    // The latest attempts only, oldest of them first: the page shows what the payer can
    // still use, and a row made before attempts were bounded cannot make the page unbounded.
    let attempts = db::attempts::latest_for_intent(&mut conn, intent.id, PUBLIC_ATTEMPTS).await?;
    let attempts_made = db::attempts::count_for_intent(&mut conn, intent.id).await?;
    let office = db::khqr::office_bakong(&mut conn, &intent.office_code).await?;
    let khqr_offered = state.bakong.is_some()
        && office.bakong_account_id.is_some()
        && office.merchant_name.is_some();
    let now = Utc::now();
    let latest_khqr = attempts
        .iter()
        .rev()
        .find(|attempt| attempt.channel == Channel::Khqr);
    let current = latest_khqr
        .filter(|attempt| attempt.status == AttemptStatus::Pending && attempt.expires_at > now);
    let current_khqr = match current {
        Some(attempt) => Some(shown_khqr(&mut conn, attempt).await?),
        None => None,
    };
    let khqr_expired = latest_khqr.is_some_and(|attempt| {
        attempt.status == AttemptStatus::Expired
            || (attempt.status == AttemptStatus::Pending && attempt.expires_at <= now)
    });
    Ok(PublicPayment {
        intent,
        office_name_km,
        office_name_en,
        attempts,
        attempts_made,
        max_attempts: state.config.max_attempts_per_intent,
        khqr_offered,
        current_khqr,
        khqr_expired,
    })
}

/// The intent a token names. Looked up by the token's SHA-256 (the database holds no token);
/// it is 256 random bits, so a timing difference on the lookup reveals nothing usable.
async fn intent_by_token(
    conn: &mut sqlx::PgConnection,
    token: &str,
) -> Result<IntentRow, AppError> {
    if token.len() > 128 || !token.starts_with("pt_") {
        return Err(AppError::not_found("payment"));
    }
    db::intents::find_by_token_hash(conn, &super::secrets::pay_token_hash(token))
        .await?
        .ok_or_else(|| AppError::not_found("payment"))
}

async fn shown_khqr(
    conn: &mut sqlx::PgConnection,
    attempt: &AttemptRow,
) -> Result<ShownKhqr, AppError> {
    let qr = attempt.khqr.as_deref().unwrap_or_default();
    let decoded = bank_adapters::khqr::decode(qr).ok();
    let amount = decoded.as_ref().and_then(|decoded| {
        let currency = match decoded.transaction_currency? {
            "116" => "KHR",
            "840" => "USD",
            _ => return None,
        };
        let text = decoded.transaction_amount?;
        // KHQR writes whole dollars without cents (`12`); our parser wants the scale.
        [text.to_owned(), format!("{text}.00")]
            .into_iter()
            .find_map(|amount| {
                super::money::MoneyView {
                    amount,
                    currency: currency.to_owned(),
                }
                .parse("khqr")
                .ok()
            })
    });
    Ok(ShownKhqr {
        attempt_id: attempt.id,
        expires_at: attempt.expires_at,
        merchant_name: decoded
            .as_ref()
            .and_then(|decoded| decoded.merchant_name)
            .unwrap_or_default()
            .to_owned(),
        merchant_name_alternate: decoded
            .as_ref()
            .and_then(|decoded| decoded.merchant_name_alternate_language)
            .map(str::to_owned),
        amount,
        deeplink: db::attempts::deeplink_of(&mut *conn, attempt.id).await?,
    })
}

/// A payment's state, for a page that follows it (one query).
pub struct PublicStatus {
    pub status: IntentStatus,
    pub receipt_number: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip_all)]
pub async fn status_by_token(state: &AppState, token: &str) -> Result<PublicStatus, AppError> {
    let mut conn = state.pool.acquire().await?;
    let intent = intent_by_token(&mut conn, token).await?;
    Ok(PublicStatus {
        status: intent.status,
        receipt_number: intent.receipt_number,
        paid_at: intent.paid_at,
    })
}

/// Who asks Bakong for a deep link, as the bank app shows it.
pub struct DeeplinkSource {
    pub app_icon_url: String,
}

/// The pay page's KHQR button: makes a KHQR attempt for the token's payment, or keeps the
/// one that is still good for a while. Nothing happens when the payment takes no attempt
/// (paid, closed, out of attempts, KHQR not offered): the page then says why, from the state.
///
/// Taps at once make one attempt: each uses an idempotency key naming the latest attempt it
/// saw (read in one statement, so taps that saw the same attempts agree), and the others,
/// waiting for the intent's lock, replay the first.
#[tracing::instrument(skip_all, fields(payment_intent.id))]
pub async fn pay_by_khqr(
    state: &AppState,
    token: &str,
    source: &DeeplinkSource,
    render: impl Fn(&AttemptRow) -> Result<Value, AppError>,
) -> Result<(), AppError> {
    let payment = by_token(state, token).await?;
    let intent = &payment.intent;
    tracing::Span::current().record("payment_intent.id", tracing::field::display(intent.id));
    let still_good = payment.current_khqr.as_ref().is_some_and(|khqr| {
        khqr.expires_at > Utc::now() + chrono::Duration::seconds(KHQR_REUSE_MARGIN_S)
    });
    if intent.status != IntentStatus::AwaitingPayment
        || still_good
        || payment.attempts_made >= payment.max_attempts
        || !payment.khqr_offered
    {
        return Ok(());
    }
    let latest = payment.attempts.last().map_or_else(
        || "none".to_owned(),
        |attempt| attempt.id.simple().to_string(),
    );
    let key = format!("pay-page-khqr-after-{latest}");
    let hash = super::idempotency::request_hash("POST", "/pay/{token}/khqr", b"khqr");
    let request = CreateAttemptRequest {
        channel: Channel::Khqr.as_str().to_owned(),
    };
    let created = attempts::create(
        state,
        AttemptCaller::Citizen(token),
        intent.id,
        &key,
        &hash,
        request,
        render,
    )
    .await;
    match created {
        Ok(Created::New(attempt)) => {
            fetch_deeplink(state, &attempt, source).await;
            Ok(())
        }
        Ok(Created::Replayed { .. }) => Ok(()),
        // The state changed under us (paid, closed, the limit reached, the office's KHQR
        // set-up gone): the page shows the state as it now is.
        Err(
            error @ (AppError::Conflict(_)
            | AppError::TooMany(_)
            | AppError::Invalid(_)
            | AppError::NotFound(_)),
        ) => {
            tracing::info!(error = %error, "the pay page's KHQR button made no attempt");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Asks Bakong for a link that opens the attempt's KHQR in a bank app and keeps it, with no
/// transaction open and a short wait: without it the page just has no such button.
async fn fetch_deeplink(state: &AppState, attempt: &AttemptRow, source: &DeeplinkSource) {
    let (Some(client), Some(qr)) = (&state.bakong, &attempt.khqr) else {
        return;
    };
    let base = state.config.public_base_url.as_str();
    let info = SourceInfo {
        app_icon_url: source.app_icon_url.clone(),
        app_name: "OWSO Pay".to_owned(),
        // The service's address, not the pay link: the token stays between us and the payer.
        app_deep_link_callback: base.to_owned(),
    };
    match tokio::time::timeout(DEEPLINK_WAIT, client.generate_deeplink_by_qr(qr, &info)).await {
        Ok(Ok(link)) => {
            if let Err(error) = db::attempts::set_deeplink(&state.pool, attempt.id, &link).await {
                tracing::warn!(payment_attempt.id = %attempt.id, error = %error, "could not keep the KHQR deep link");
            }
        }
        Ok(Err(error)) => {
            tracing::warn!(payment_attempt.id = %attempt.id, error = %error, "Bakong gave no deep link for the KHQR");
        }
        Err(_) => {
            tracing::warn!(payment_attempt.id = %attempt.id, "Bakong's deep link took too long; the page goes without it");
        }
    }
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
