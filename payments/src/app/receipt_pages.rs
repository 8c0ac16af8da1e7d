//! The citizen's receipt and its verification.
//!
//! **The receipt's address** is `/receipts/{number}?t={tag}`: receipt numbers are sequential
//! (`0320-2026-000017`), so the number alone would show anyone the next person's name and
//! case. The tag is an HMAC of the number under a key derived from `SECRETS_KEY`
//! ([`Keyring::link_tag`]): nothing is stored, 128 bits cannot be guessed, and it opens that
//! one receipt and nothing else. The pay token was the other candidate and was not taken: a
//! receipt is forwarded (to an employer, a relative) more often than a payment link, and the
//! token would hand over the payment page with it. After a `SECRETS_KEY` rotation old tags
//! open while the old key is kept in `SECRETS_KEY_OLD`; the pay page always links with a
//! fresh one.
//!
//! **The verification QR** encodes `{PUBLIC_BASE_URL}/verify/{number}?a=&c=&o=&d=&s=`: the
//! amount, currency, office and Cambodian date the receipt claims, and an Ed25519 signature
//! over them (with the number) by the ledger's signing key (`LEDGER_SIGNING_KEY`). Ed25519
//! rather than an HMAC because a printed receipt lives for years: the ledger's keys already
//! have a rotation path that keeps retired public keys trusted (`LEDGER_PUBLIC_KEYS`, for the
//! signed digests), whereas `SECRETS_KEY` is meant to be rotated and its old keys dropped; and
//! anyone holding the published public key can check a receipt without the service. The
//! verify page checks the signature against every trusted key, then that the receipt exists
//! with exactly those values, so a forged, altered or unknown receipt does not verify. Without
//! a signing key (production without `LEDGER_SIGNING_KEY`) receipts carry no QR.

use chrono::{DateTime, FixedOffset, NaiveDate};
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use ledger::Money;

use super::books::digests::signing_key;
use super::books::verify::trusted_keys;
use super::error::AppError;
use super::money;
use super::quotes::QuoteLine;
use super::secrets::Keyring;
use crate::config::Config;
use crate::db;
use crate::state::AppState;

/// What receipt tags are made for (keeps them apart from other link tags).
const RECEIPT_TAG_PURPOSE: &str = "receipt";
/// The first line of a signed receipt claim: a signature made for anything else (a ledger
/// digest) never verifies a receipt.
const CLAIM_DOMAIN: &str = "owso-pay receipt v1";
/// Longest receipt number accepted in an address (real ones are about 16 characters).
const MAX_NUMBER_CHARS: usize = 40;

/// The site-relative address of receipt `receipt_number`'s page, with its tag: what the pay
/// page links to once the payment has its number.
pub fn receipt_url(keyring: &Keyring, receipt_number: &str) -> String {
    format!(
        "/receipts/{receipt_number}?t={}",
        keyring.link_tag(RECEIPT_TAG_PURPOSE, receipt_number)
    )
}

/// Cambodia keeps one time zone, UTC+7, all year.
fn cambodia() -> Result<FixedOffset, AppError> {
    FixedOffset::east_opt(7 * 3600).ok_or_else(|| AppError::internal("UTC+7 is an offset"))
}

/// Receipt numbers are office code, year and a counter joined by `-`: letters, digits and
/// dashes only, so a number is safe in a path and in a signed claim.
pub(crate) fn well_formed(number: &str) -> bool {
    !number.is_empty()
        && number.len() <= MAX_NUMBER_CHARS
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A receipt as its page shows it.
pub struct Receipt {
    pub number: String,
    pub office_code: String,
    pub office_name_km: String,
    pub office_name_en: String,
    pub case_reference: String,
    pub payer_name: Option<String>,
    pub lines: Vec<QuoteLine>,
    pub total: Money,
    /// `khqr`, `cash`, ... (app::states::Channel's texts).
    pub channel: Option<String>,
    /// When it was paid, in Cambodian time.
    pub paid_at: DateTime<FixedOffset>,
    /// The absolute verification address the QR encodes; `None` without a signing key.
    pub verify_url: Option<String>,
    /// Voided by the office: the page says so, it no longer proves a payment.
    pub standing: Standing,
}

/// The receipt `number` for the holder of its tag; a wrong or missing tag is the same "not
/// found" as an unknown number, so the answer says nothing about which numbers exist.
#[tracing::instrument(skip_all)]
pub async fn receipt(
    state: &AppState,
    number: &str,
    tag: Option<&str>,
) -> Result<Receipt, AppError> {
    let keyring = &state.keyring;
    let authorised = well_formed(number)
        && tag.is_some_and(|tag| keyring.check_link_tag(RECEIPT_TAG_PURPOSE, number, tag));
    if !authorised {
        return Err(AppError::not_found("receipt"));
    }
    let mut conn = state.pool.acquire().await?;
    let row = db::receipt_views::receipt_by_number(&mut conn, number)
        .await?
        .ok_or_else(|| AppError::not_found("receipt"))?;
    receipt_of_row(state, row)
}

/// The receipt page's view of a stored receipt, verification address included. No access
/// check: [`receipt`] checks the citizen's tag, the console (app::cashier's counter) the
/// person's office.
pub(crate) fn receipt_of_row(
    state: &AppState,
    row: db::receipt_views::ReceiptRow,
) -> Result<Receipt, AppError> {
    let total = money::from_row(row.total_minor, &row.currency)?;
    let standing = standing_of(&row);
    let paid_at = row.paid_at.with_timezone(&cambodia()?);
    let claim = ReceiptClaim {
        number: row.receipt_number.clone(),
        amount: total.format_amount(),
        currency: total.currency().code().to_owned(),
        office: row.office_code.clone(),
        date: paid_at.date_naive().format("%Y-%m-%d").to_string(),
        signature: String::new(),
    };
    let verify_url = signing_key(&state.config)
        .map_err(AppError::internal)?
        .map(|key| verification_url(&state.config, &key, claim));
    Ok(Receipt {
        number: row.receipt_number,
        office_code: row.office_code,
        office_name_km: row.office_name_km,
        office_name_en: row.office_name_en,
        case_reference: row.case_reference,
        payer_name: row.payer_name.filter(|name| !name.trim().is_empty()),
        lines: row.lines.0,
        total,
        channel: row.channel,
        paid_at,
        verify_url,
        standing,
    })
}

/// What a receipt's verification address claims: the values as text, exactly as signed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptClaim {
    pub number: String,
    /// The amount as the API writes it (`600000`, `12.00`).
    pub amount: String,
    pub currency: String,
    /// The office code.
    pub office: String,
    /// The Cambodian date of payment, `YYYY-MM-DD`.
    pub date: String,
    /// base64url (no padding) of the Ed25519 signature of [`ReceiptClaim::message`].
    pub signature: String,
}

impl ReceiptClaim {
    /// The signed text: one field a line after the domain line. No field may hold a line
    /// break ([`ReceiptClaim::fields_are_plain`]), so the lines cannot be shifted.
    pub fn message(&self) -> String {
        format!(
            "{CLAIM_DOMAIN}\n{}\n{}\n{}\n{}\n{}",
            self.number, self.amount, self.currency, self.office, self.date
        )
    }

    fn fields_are_plain(&self) -> bool {
        well_formed(&self.number)
            && [&self.amount, &self.currency, &self.office, &self.date]
                .iter()
                .all(|field| {
                    !field.is_empty()
                        && field.len() <= MAX_NUMBER_CHARS
                        && field.chars().all(|c| c.is_ascii_graphic())
                })
    }
}

/// Signs `claim` and writes its address under `PUBLIC_BASE_URL`. Every field is letters,
/// digits, `.` or `-`, so none needs escaping.
fn verification_url(config: &Config, key: &SigningKey, mut claim: ReceiptClaim) -> String {
    use base64::Engine as _;
    let signature = key.sign(claim.message().as_bytes());
    claim.signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes());
    let base = config.public_base_url.as_str().trim_end_matches('/');
    format!(
        "{base}/verify/{}?a={}&c={}&o={}&d={}&s={}",
        claim.number, claim.amount, claim.currency, claim.office, claim.date, claim.signature
    )
}

/// Whether a receipt still stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Valid,
    /// Voided by the office (the cashier's void, approved by a supervisor): it was issued, and
    /// no longer proves a payment. Read from `cash_receipts.voided_at` (see
    /// `db::receipt_views::receipt_by_number`).
    Void,
}

/// What the verify page says; nothing personal in either case.
#[derive(Debug)]
pub enum Verdict {
    /// The service issued this receipt with these values.
    Verified {
        standing: Standing,
        number: String,
        total: Money,
        office_code: String,
        office_name_km: String,
        office_name_en: String,
        date: NaiveDate,
    },
    /// Forged, altered or unknown: the signature does not hold, or no receipt has these
    /// values. The page does not say which, so it teaches a forger nothing.
    NotVerified,
}

/// Checks a receipt's verification address.
#[tracing::instrument(skip_all)]
pub async fn verify(state: &AppState, claim: &ReceiptClaim) -> Result<Verdict, AppError> {
    if !claim.fields_are_plain() || !signature_holds(&state.config, claim)? {
        return Ok(Verdict::NotVerified);
    }
    let mut conn = state.pool.acquire().await?;
    let Some(row) = db::receipt_views::receipt_by_number(&mut conn, &claim.number).await? else {
        return Ok(Verdict::NotVerified);
    };
    let total = money::from_row(row.total_minor, &row.currency)?;
    let date = row.paid_at.with_timezone(&cambodia()?).date_naive();
    // A signature made by a key that has leaked would still hold: the receipt must also be
    // on record with exactly the values it shows.
    let on_record = total.format_amount() == claim.amount
        && total.currency().code() == claim.currency
        && row.office_code == claim.office
        && date.format("%Y-%m-%d").to_string() == claim.date;
    if !on_record {
        return Ok(Verdict::NotVerified);
    }
    Ok(Verdict::Verified {
        standing: standing_of(&row),
        number: row.receipt_number,
        total,
        office_code: row.office_code,
        office_name_km: row.office_name_km,
        office_name_en: row.office_name_en,
        date,
    })
}

fn standing_of(row: &db::receipt_views::ReceiptRow) -> Standing {
    if row.voided_at.is_some() {
        Standing::Void
    } else {
        Standing::Valid
    }
}

/// True when one of the trusted ledger keys signed `claim`.
fn signature_holds(config: &Config, claim: &ReceiptClaim) -> Result<bool, AppError> {
    use base64::Engine as _;
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&claim.signature)
    else {
        return Ok(false);
    };
    let Ok(signature) = Signature::from_slice(&bytes) else {
        return Ok(false);
    };
    let message = claim.message();
    let keys = trusted_keys(config).map_err(AppError::internal)?;
    Ok(keys
        .iter()
        .any(|key| key.verify_strict(message.as_bytes(), &signature).is_ok()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn claim() -> ReceiptClaim {
        ReceiptClaim {
            number: "0320-2026-000001".to_owned(),
            amount: "600000".to_owned(),
            currency: "KHR".to_owned(),
            office: "0320".to_owned(),
            date: "2026-12-06".to_owned(),
            signature: String::new(),
        }
    }

    fn signed(config: &Config) -> ReceiptClaim {
        let key = signing_key(config).unwrap().unwrap();
        let url = verification_url(config, &key, claim());
        let signature = url.split("&s=").nth(1).unwrap().to_owned();
        ReceiptClaim {
            signature,
            ..claim()
        }
    }

    #[test]
    fn a_signed_claim_holds_and_any_change_breaks_it() {
        let config = Config::for_tests("postgres://unused");
        let good = signed(&config);
        assert!(signature_holds(&config, &good).unwrap());
        let altered = [
            ReceiptClaim {
                amount: "6000000".to_owned(),
                ..good.clone()
            },
            ReceiptClaim {
                number: "0320-2026-000002".to_owned(),
                ..good.clone()
            },
            ReceiptClaim {
                office: "1201".to_owned(),
                ..good.clone()
            },
            ReceiptClaim {
                date: "2026-12-07".to_owned(),
                ..good.clone()
            },
            ReceiptClaim {
                currency: "USD".to_owned(),
                ..good.clone()
            },
            ReceiptClaim {
                signature: "AAAA".to_owned(),
                ..good.clone()
            },
        ];
        for claim in altered {
            assert!(!signature_holds(&config, &claim).unwrap(), "{claim:?}");
        }
    }

    #[test]
    fn receipt_numbers_in_addresses_are_plain() {
        assert!(well_formed("0320-2026-000001"));
        for bad in ["", "a/b", "0320 2026", "x\n1", &"9".repeat(41)] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        let mut shifted = claim();
        shifted.amount = "600000\nKHR".to_owned();
        assert!(!shifted.fields_are_plain());
        assert!(claim().fields_are_plain());
    }
}
