//! The KHQR channel: a dynamic merchant KHQR for the office's Bakong account, and what the
//! Bakong poller learns about it.

use bank_adapters::bakong::BakongTransaction;
use bank_adapters::khqr::{self, AccountKind, KhqrRequest};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::inbox;
use super::intents::IntentRow;
use super::money;
use super::settlement::Report;
use super::states::Channel;
use crate::app::error::AppError;
use crate::db;
use crate::db::khqr::{DueAttempt, NewKhqrRow};

/// A bill number the payer's bank app can show: KHQR allows 1 to 25 characters.
const BILL_NUMBER_MAX: usize = 25;

pub struct NewKhqrAttempt<'a> {
    pub attempt_id: Uuid,
    pub provider_reference: &'a str,
    pub expires_at: DateTime<Utc>,
}

fn unavailable(detail: impl Into<String>) -> AppError {
    AppError::unprocessable("channel_unavailable", "Channel unavailable", detail)
}

/// The case reference is what the citizen and the office know the payment by; when it does not
/// fit KHQR's bill number, a short form of the attempt id stands in.
fn bill_number(case_reference: &str, attempt_id: Uuid) -> String {
    if (1..=BILL_NUMBER_MAX).contains(&case_reference.chars().count()) {
        case_reference.to_owned()
    } else {
        let simple = attempt_id.simple().to_string();
        let tail: String = simple
            .chars()
            .rev()
            .take(BILL_NUMBER_MAX - 2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("OP{tail}")
    }
}

/// Makes the attempt's KHQR and records it, polling included. Runs in the caller's transaction.
#[tracing::instrument(skip_all, fields(payment_intent.id = %intent.id, payment_attempt.id = %new.attempt_id, office.code = %intent.office_code))]
pub async fn insert_attempt(
    conn: &mut PgConnection,
    intent: &IntentRow,
    new: &NewKhqrAttempt<'_>,
) -> Result<(), AppError> {
    let office = db::khqr::office_bakong(&mut *conn, &intent.office_code).await?;
    let (Some(account), Some(name)) = (office.bakong_account_id, office.merchant_name) else {
        return Err(unavailable(format!(
            "office {} has no Bakong account set up for KHQR",
            intent.office_code
        )));
    };
    let total = money::from_row(intent.total_minor, &intent.currency)?;
    let kind = match (
        office.bakong_merchant_id,
        office.bakong_acquiring_bank.clone(),
    ) {
        (Some(merchant_id), Some(acquiring_bank)) => AccountKind::Merchant {
            merchant_id,
            acquiring_bank,
        },
        (_, acquiring_bank) => AccountKind::Individual {
            account_information: None,
            acquiring_bank,
        },
    };
    let bill = bill_number(&intent.case_reference, new.attempt_id);
    let mut request = KhqrRequest::new(kind, account, name);
    request.merchant_city = office.merchant_city;
    request.currency = match total.currency() {
        ledger::Currency::Khr => khqr::Currency::Khr,
        ledger::Currency::Usd => khqr::Currency::Usd,
    };
    request.amount = Some(total.to_decimal());
    request.expiration_ms = Some(new.expires_at.timestamp_millis());
    request.bill_number = Some(bill.clone());
    request.store_label = Some(intent.office_code.clone());
    if let Some(name_km) = office.merchant_name_km {
        request.language_preference = Some("km".to_owned());
        request.merchant_name_alternate_language = Some(name_km);
    }
    let encoded = khqr::encode(&request, Utc::now().timestamp_millis()).map_err(|error| {
        tracing::error!(office.code = %intent.office_code, error = %error, "office KHQR configuration is invalid");
        unavailable(format!("office {} has an invalid KHQR configuration ({error})", intent.office_code))
    })?;
    let row = NewKhqrRow {
        id: new.attempt_id,
        payment_intent_id: intent.id,
        office_code: &intent.office_code,
        currency: &intent.currency,
        amount_minor: intent.total_minor,
        provider_reference: new.provider_reference,
        expires_at: new.expires_at,
        khqr: &encoded.qr,
        khqr_md5: &encoded.md5,
        bill_number: &bill,
    };
    db::khqr::insert_attempt(conn, &row).await
}

/// The report of a payment Bakong found for an attempt, with Bakong's answer stored raw in
/// the inbox first (`raw`); it settles through the path every channel takes
/// (app::settlement_batch). The receiving account is part of the integrity check: money that
/// reached another account was not paid to this office.
#[tracing::instrument(skip_all, fields(payment_attempt.id = %attempt.id, office.code = %attempt.office_code))]
pub async fn found_report(
    pool: &PgPool,
    attempt: &DueAttempt,
    found: &BakongTransaction,
    raw: &serde_json::Value,
) -> Result<Report, AppError> {
    let body = serde_json::to_vec(raw).map_err(AppError::internal)?;
    let inbox_id = inbox::store(pool, "bakong", &serde_json::json!({}), &body).await?;
    let expected_account = db::khqr::office_account_id(pool, &attempt.office_code).await?;
    let mut report = Report::new(
        "bakong",
        Channel::Khqr,
        found.report(&attempt.provider_reference),
        Some(inbox_id),
    );
    report.receiving_account_matches =
        expected_account.as_deref() == Some(found.to_account_id.as_str());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bill_numbers_fit_khqr() {
        let id = Uuid::now_v7();
        assert_eq!(bill_number("0320018100", id), "0320018100");
        let long = bill_number(&"x".repeat(40), id);
        assert_eq!(long.chars().count(), BILL_NUMBER_MAX);
        assert!(long.starts_with("OP"));
    }
}
