//! An office's accounts at Bakong and at banks (`payments accounts add|list`): where each
//! channel's money lands, and the `bank:{segment}` ledger account a matched line moves it to.

use serde::Serialize;
use sqlx::PgConnection;

use crate::db;
use crate::db::reconciliation::AccountRow;

/// One currency of an account, as `payments accounts list` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountListing {
    pub account_id: String,
    pub currency: String,
    pub office_code: String,
    pub kind: String,
    pub ledger_segment: String,
    pub channels: Vec<String>,
}

impl From<AccountRow> for AccountListing {
    fn from(row: AccountRow) -> AccountListing {
        AccountListing {
            account_id: row.account_id,
            currency: row.currency.trim().to_owned(),
            office_code: row.office_code,
            kind: row.kind,
            ledger_segment: row.ledger_segment,
            channels: row.channels,
        }
    }
}

/// Why an account was not added.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("office {0} does not exist")]
    UnknownOffice(String),
    #[error("{0}")]
    Invalid(String),
    #[error("account {0} in {1} exists already")]
    Exists(String, String),
    #[error("channel {channel} of office {office} in {currency} already lands in another account")]
    ChannelTaken {
        office: String,
        currency: String,
        channel: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn check(account: &AccountRow) -> Result<(), AccountError> {
    let id_ok = (1..=64).contains(&account.account_id.len())
        && account
            .account_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b));
    if !id_ok {
        return Err(AccountError::Invalid(
            "account id must be 1 to 64 of A-Z, a-z, 0-9, _ . @ -".to_owned(),
        ));
    }
    if !matches!(account.currency.as_str(), "KHR" | "USD") {
        return Err(AccountError::Invalid(
            "currency must be KHR or USD".to_owned(),
        ));
    }
    if !matches!(account.kind.as_str(), "bakong" | "bank") {
        return Err(AccountError::Invalid(
            "kind must be bakong or bank".to_owned(),
        ));
    }
    let segment_ok = (1..=40).contains(&account.ledger_segment.len())
        && account
            .ledger_segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !segment_ok {
        return Err(AccountError::Invalid(
            "ledger segment must be 1 to 40 of a-z, 0-9, _ -".to_owned(),
        ));
    }
    let channels_ok = (1..=16).contains(&account.channels.len())
        && account.channels.iter().all(|channel| {
            (1..=40).contains(&channel.len())
                && channel
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !channels_ok {
        return Err(AccountError::Invalid(
            "1 to 16 channels, each 1 to 40 of a-z, 0-9, _ (khqr, sandbox, cash, ...)".to_owned(),
        ));
    }
    Ok(())
}

/// Registers one currency of an office's account and maps its channels to it.
#[tracing::instrument(skip_all, fields(office.code = %account.office_code))]
pub async fn add(
    conn: &mut PgConnection,
    account: AccountRow,
) -> Result<AccountListing, AccountError> {
    check(&account)?;
    if !db::offices::exists(&mut *conn, &account.office_code).await? {
        return Err(AccountError::UnknownOffice(account.office_code));
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let inserted = match db::reconciliation::insert_account(&mut tx, &account).await {
        Ok(inserted) => inserted,
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Err(AccountError::ChannelTaken {
                office: account.office_code,
                currency: account.currency,
                channel: account.channels.join(","),
            })
        }
        Err(error) => return Err(error.into()),
    };
    if !inserted {
        return Err(AccountError::Exists(account.account_id, account.currency));
    }
    tx.commit().await?;
    Ok(account.into())
}

/// Every account, or one office's.
pub async fn list(
    conn: &mut PgConnection,
    office_code: Option<&str>,
) -> Result<Vec<AccountListing>, sqlx::Error> {
    let rows = db::reconciliation::accounts(conn, None, office_code).await?;
    Ok(rows.into_iter().map(AccountListing::from).collect())
}
