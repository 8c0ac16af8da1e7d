//! The Bakong Open API's wire format: the envelope, a transaction, the md5-list items, and
//! their conversion into [`super::BakongTransaction`].
//!
//! `bank-sim` serves this format and [`super::BakongClient`] reads it, so the same structs
//! serve both sides.
//!
//! What we know of the format, and how well (BANKS.md "Bakong Open API"; \[V\] = seen in
//! BANKS.md or in answers captured from the real API by several public integrations,
//! \[U\] = from one source, a reconstruction, or our own choice for the simulator):
//!
//! - \[V\] Every answer is the envelope `{"responseCode": 0|1, "responseMessage": "...",
//!   "errorCode": null|1..12, "data": ...}`.
//! - \[V\] A found payment answers HTTP 200, `responseCode` 0, `errorCode` null, and `data` with
//!   `hash` (64 hex), `fromAccountId` (such as `abaakhppxxx@abaa`), `toAccountId`,
//!   `currency` (`"KHR"`/`"USD"`), `amount`, `description` (often null), `createdDateMs`,
//!   `acknowledgedDateMs`, and often `trackingStatus`, `receiverBank`,
//!   `receiverBankAccount`, `instructionRef` (usually null) and `externalRef` (such as
//!   `100FT35781491692`).
//! - \[V\] `amount` is a JSON number in major units: `1`, `0.1`, `0.01`, `4400`, `9800`. We read
//!   its text into a `Decimal` (never through `f64`); an exponent form (`1.0E7`, as Java
//!   writes large doubles) is read exactly too \[U that Bakong ever sends one\].
//! - \[V\] Not paid yet: HTTP 200, `responseCode` 1, `errorCode` 1, `data` null, message
//!   "Transaction could not be found. Please check and try again."
//! - \[V\] An expired or wrong token: HTTP 401 with the envelope and `errorCode` 6.
//! - \[U\] One SDK's schema spells the timestamps `createDateMs`/`acknowledgeDateMs`; every
//!   captured answer says `createdDateMs`/`acknowledgedDateMs`. We accept both.
//! - \[U\] A single integration documents `responseCode` 1 with `errorCode` null as "pending";
//!   we read it as not paid.
//! - \[V\] `check_transaction_by_md5_list` takes a bare JSON array of md5 strings and answers
//!   `data: [{md5, status, message, data}]` with `status` `SUCCESS` or `NOT_FOUND`; SDK
//!   schemas add `STATIC_QR` and `FAILED` \[U\]. At most 50 md5s per call \[U: SDK schemas
//!   and clients enforce 50; no official figure\].
//! - \[U\] One SDK reports that production answers `check_transaction_by_md5_list` with a bare
//!   nginx HTTP 403 while the single check works; production also answers 403 outside
//!   Cambodia. The client reports a 403 as [`AdapterError::Status`], not as a token problem.
//! - \[U\] How Bakong answers more than 50 md5s, a malformed body, a 429 or a 500 (body and
//!   HTTP status) is not documented; the simulator's choices are in `sim::bakong`.
//! - \[V\] `check_transaction_by_hash` exists; \[U\] (SDK schemas agree) its body is
//!   `{"hash"}` with the 64-hex transaction hash, and it answers like the md5 check plus
//!   `trackingStatus`, `receiverBank` and `receiverBankAccount`. The short-hash check is the
//!   one that takes `{"hash", "amount", "currency"}`; we do not use it.
//! - \[V\] `generate_deeplink_by_qr` takes `{"qr", "sourceInfo": {"appIconUrl", "appName",
//!   "appDeepLinkCallback"}}` and answers `data.shortLink`; errorCode 4 is the deep-link
//!   provider's failure. \[U\] How it answers a QR that is not a valid KHQR is not documented
//!   (the simulator answers errorCode 5).

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::BakongTransaction;
use crate::error::AdapterError;
use crate::http::decode_error;

/// Most md5s Bakong takes in one `check_transaction_by_md5_list` call \[U\].
pub const MAX_MD5_LIST_LEN: usize = 50;

/// `responseCode` of a successful answer.
pub const RESPONSE_CODE_SUCCESS: i64 = 0;

/// `responseCode` of a failed answer; `errorCode` says why.
pub const RESPONSE_CODE_FAIL: i64 = 1;

/// `errorCode` 1: the transaction could not be found (not paid yet).
pub const ERROR_NOT_FOUND: i64 = 1;
/// `errorCode` 2: the system does not support static QR codes.
pub const ERROR_STATIC_QR: i64 = 2;
/// `errorCode` 3: the transaction failed.
pub const ERROR_TRANSACTION_FAILED: i64 = 3;
/// `errorCode` 4: the deep-link provider failed (`generate_deeplink_by_qr`).
pub const ERROR_DEEPLINK_PROVIDER: i64 = 4;
/// `errorCode` 5: required fields are missing.
pub const ERROR_MISSING_FIELDS: i64 = 5;
/// `errorCode` 6: unauthorized (a wrong or expired token).
pub const ERROR_UNAUTHORIZED: i64 = 6;
/// `errorCode` 9: Bakong cannot connect to its own server; try again later.
pub const ERROR_CANNOT_CONNECT: i64 = 9;
/// `errorCode` 11: account id not found.
pub const ERROR_ACCOUNT_NOT_FOUND: i64 = 11;
/// `errorCode` 12: account id invalid.
pub const ERROR_ACCOUNT_INVALID: i64 = 12;

/// The message of a not-found answer, as captured from the real API \[V\].
pub const NOT_FOUND_MESSAGE: &str = "Transaction could not be found. Please check and try again.";

/// Longest `responseMessage` or item `message` we keep in an error.
const MESSAGE_CHARS: usize = 200;

/// Longest account id or hash we accept from Bakong. Real values are far shorter (account
/// ids ≤ 32, hashes 64); this only keeps junk out of our records.
const MAX_FIELD_CHARS: usize = 255;

/// The envelope around every Bakong answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BakongEnvelope<T> {
    /// 0 success, 1 failure.
    pub response_code: i64,
    /// A human-readable message ("Success", or why it failed).
    #[serde(default)]
    pub response_message: String,
    /// Why it failed (1..12), null on success.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// The answer's payload, null on failure.
    #[serde(default = "none")]
    pub data: Option<T>,
}

// `#[serde(default)]` on a generic field would ask for `T: Default`.
fn none<T>() -> Option<T> {
    None
}

/// A payment as Bakong describes it (`data` of a found transaction).
///
/// Unknown fields are ignored: Bakong adds fields without notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionData {
    /// The full transaction hash (64 hex digits).
    pub hash: String,
    /// The payer's Bakong account id.
    #[serde(default)]
    pub from_account_id: Option<String>,
    /// The payee's Bakong account id (the QR's `bakongAccountID`).
    #[serde(default)]
    pub to_account_id: Option<String>,
    /// `"KHR"` or `"USD"`.
    pub currency: String,
    /// The amount in major units, read from the JSON number's text.
    #[serde(
        serialize_with = "serialize_json_number",
        deserialize_with = "deserialize_json_number"
    )]
    pub amount: Decimal,
    /// Free text, often null.
    #[serde(default)]
    pub description: Option<String>,
    /// When the payer sent the money, milliseconds since the epoch.
    #[serde(alias = "createDateMs")]
    pub created_date_ms: i64,
    /// When Bakong recorded it, milliseconds since the epoch.
    #[serde(default, alias = "acknowledgeDateMs")]
    pub acknowledged_date_ms: Option<i64>,
    /// The payer bank's reference, such as `100FT35781491692`.
    #[serde(default)]
    pub external_ref: Option<String>,
    /// The sender's instruction reference, usually null.
    #[serde(default)]
    pub instruction_ref: Option<String>,
}

/// One answer of `check_transaction_by_md5_list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Md5ListItem {
    /// The md5 this item answers for.
    pub md5: String,
    /// What Bakong knows of it.
    pub status: Md5Status,
    /// A human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The payment, when `status` is `SUCCESS`.
    #[serde(default)]
    pub data: Option<TransactionData>,
}

/// The `status` of one md5 in a list answer.
///
/// Only `Success` means paid; anything Bakong may add later arrives as `Other` and is never
/// read as paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Md5Status {
    /// `SUCCESS`: paid; the item carries the transaction.
    Success,
    /// `NOT_FOUND`: no payment yet.
    NotFound,
    /// `STATIC_QR`: the md5 is of a static QR, which Bakong cannot track.
    StaticQr,
    /// `FAILED`: the payment failed.
    Failed,
    /// A status this code does not know, verbatim.
    Other(String),
}

impl From<String> for Md5Status {
    fn from(value: String) -> Self {
        match value.as_str() {
            "SUCCESS" => Self::Success,
            "NOT_FOUND" => Self::NotFound,
            "STATIC_QR" => Self::StaticQr,
            "FAILED" => Self::Failed,
            _ => Self::Other(value),
        }
    }
}

impl From<Md5Status> for String {
    fn from(value: Md5Status) -> Self {
        match value {
            Md5Status::Success => "SUCCESS".to_owned(),
            Md5Status::NotFound => "NOT_FOUND".to_owned(),
            Md5Status::StaticQr => "STATIC_QR".to_owned(),
            Md5Status::Failed => "FAILED".to_owned(),
            Md5Status::Other(other) => other,
        }
    }
}

/// One md5's answer, checked and converted (see [`super::BakongClient::check_by_md5_list_detailed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5ListEntry {
    /// The md5 asked about.
    pub md5: String,
    /// What Bakong knows of it (for an undecodable item, what could be read of it, or
    /// `Other("")`).
    pub status: Md5Status,
    /// The payment; present exactly when `status` is [`Md5Status::Success`] and the item
    /// could be read.
    pub transaction: Option<BakongTransaction>,
    /// Why Bakong's item for this md5 could not be read (then `transaction` is `None`). One
    /// unreadable item does not spoil the others of the answer: it reads as "not known to be
    /// paid", and the md5 is simply asked again later.
    pub undecodable: Option<String>,
}

impl Md5ListEntry {
    /// An entry for an item that could not be read.
    fn undecodable(md5: String, status: Md5Status, why: String) -> Self {
        Self {
            md5,
            status,
            transaction: None,
            undecodable: Some(why),
        }
    }
}

/// What can be read of a list item that is not a valid [`Md5ListItem`]: the md5 it answers
/// for, if any, so that it spoils only that md5.
#[derive(Deserialize)]
struct ItemMd5 {
    md5: String,
    /// Any JSON: a status that is not even text must not hide the md5.
    #[serde(default)]
    status: Option<serde_json::Value>,
}

/// The body of `check_transaction_by_md5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Md5Request {
    /// Lowercase hex MD5 of the KHQR string.
    pub md5: String,
}

/// Who asks for a deep link, as the payer's bank app shows it and where it returns
/// (`sourceInfo` of `generate_deeplink_by_qr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// An image the bank app may show for the asking app.
    pub app_icon_url: String,
    /// The asking app's name.
    pub app_name: String,
    /// Where the bank app sends the payer back after paying.
    pub app_deep_link_callback: String,
}

/// The body of `generate_deeplink_by_qr` \[V: BANKS.md\].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeeplinkRequest {
    /// The KHQR string the link opens in a bank app.
    pub qr: String,
    /// Who asks.
    pub source_info: SourceInfo,
}

/// `data` of a `generate_deeplink_by_qr` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeeplinkData {
    /// The link that opens the QR in the payer's bank app.
    pub short_link: String,
}

/// Longest deep link we accept (real ones are short links of a few dozen characters).
pub const MAX_DEEPLINK_CHARS: usize = 512;

/// What a deep-link envelope means: the link, checked to be a plain http(s) URL (it ends up
/// in a page's `href`, so nothing else may pass), or an error.
///
/// # Errors
///
/// As [`transaction_outcome`] for failed envelopes, except errorCode 4 (the deep-link
/// provider failed: [`AdapterError::Transport`], retryable); [`AdapterError::Decode`] for a success
/// without a usable link.
pub fn deeplink_outcome(envelope: BakongEnvelope<DeeplinkData>) -> Result<String, AdapterError> {
    if envelope.response_code != RESPONSE_CODE_SUCCESS {
        // errorCode 4 belongs to this call alone: its provider may answer on a later try.
        if envelope.error_code == Some(ERROR_DEEPLINK_PROVIDER) {
            return Err(AdapterError::Transport(format!(
                "Bakong's deep-link provider failed (errorCode 4): {}",
                bounded(&envelope.response_message)
            )));
        }
        return Err(envelope_error(&envelope));
    }
    let link = envelope.data.map(|data| data.short_link).ok_or_else(|| {
        AdapterError::Decode("Bakong answered a deep link without data".to_owned())
    })?;
    let usable = link.chars().count() <= MAX_DEEPLINK_CHARS
        && !link.chars().any(char::is_control)
        && url::Url::parse(&link)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    if usable {
        Ok(link)
    } else {
        Err(AdapterError::Decode(format!(
            "Bakong's deep link is not an http(s) URL: {}",
            bounded(&link)
        )))
    }
}

/// The body of `check_transaction_by_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashRequest {
    /// The full transaction hash (64 hex digits).
    pub hash: String,
}

impl TryFrom<TransactionData> for BakongTransaction {
    type Error = AdapterError;

    fn try_from(data: TransactionData) -> Result<Self, Self::Error> {
        let decode = |message: &str| AdapterError::Decode(format!("Bakong transaction: {message}"));
        check_field("hash", &data.hash).map_err(|m| decode(&m))?;
        // The payee is how the payments service checks the money reached the office's account,
        // so an answer without it cannot confirm anything.
        let to_account_id = data
            .to_account_id
            .ok_or_else(|| decode("toAccountId is missing"))?;
        check_field("toAccountId", &to_account_id).map_err(|m| decode(&m))?;
        if let Some(from) = &data.from_account_id {
            check_field("fromAccountId", from).map_err(|m| decode(&m))?;
        }
        if data.currency.len() != 3 || !data.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(decode("currency is not three capital letters"));
        }
        if data.amount.is_sign_negative() {
            return Err(decode("amount is negative"));
        }
        if data.created_date_ms <= 0 {
            return Err(decode("createdDateMs is not a positive timestamp"));
        }
        Ok(Self {
            hash: data.hash,
            from_account_id: data.from_account_id,
            to_account_id,
            currency: data.currency,
            amount: data.amount,
            description: data.description,
            created_date_ms: data.created_date_ms,
            acknowledged_date_ms: data.acknowledged_date_ms,
            external_ref: data.external_ref,
        })
    }
}

impl From<&BakongTransaction> for TransactionData {
    fn from(transaction: &BakongTransaction) -> Self {
        Self {
            hash: transaction.hash.clone(),
            from_account_id: transaction.from_account_id.clone(),
            to_account_id: Some(transaction.to_account_id.clone()),
            currency: transaction.currency.clone(),
            amount: transaction.amount,
            description: transaction.description.clone(),
            created_date_ms: transaction.created_date_ms,
            acknowledged_date_ms: transaction.acknowledged_date_ms,
            external_ref: transaction.external_ref.clone(),
            instruction_ref: None,
        }
    }
}

/// Reads a `check_transaction_by_md5` or `_by_hash` answer body (HTTP 200).
///
/// `Ok(None)` means not paid (yet).
///
/// # Errors
///
/// As [`transaction_outcome`], plus [`AdapterError::Decode`] when the body is not the envelope.
pub fn parse_transaction_response(body: &[u8]) -> Result<Option<BakongTransaction>, AdapterError> {
    let envelope: BakongEnvelope<TransactionData> =
        serde_json::from_slice(body).map_err(|error| decode_error(&error))?;
    transaction_outcome(envelope)
}

/// Reads a `check_transaction_by_md5_list` answer body (HTTP 200) into checked items, in the
/// order Bakong gave them.
///
/// # Errors
///
/// As [`list_outcome`], plus [`AdapterError::Decode`] when the body is not the envelope.
pub fn parse_md5_list_response(body: &[u8]) -> Result<Vec<Md5ListEntry>, AdapterError> {
    let envelope: BakongEnvelope<Vec<Box<RawValue>>> =
        serde_json::from_slice(body).map_err(|error| decode_error(&error))?;
    list_outcome(envelope)
}

/// What a single-transaction envelope means: paid, not paid, or an error.
///
/// # Errors
///
/// [`AdapterError::Unauthorized`] for `errorCode` 6; [`AdapterError::InvalidInput`] when
/// Bakong refused what we sent (2 static QR, 5 missing fields, 11/12 account);
/// [`AdapterError::Transport`] (retryable) for 9, Bakong cannot reach its own server;
/// [`AdapterError::Decode`] for a success without a readable transaction or any other code.
pub fn transaction_outcome(
    envelope: BakongEnvelope<TransactionData>,
) -> Result<Option<BakongTransaction>, AdapterError> {
    if envelope.response_code == RESPONSE_CODE_SUCCESS {
        let data = envelope.data.ok_or_else(|| {
            AdapterError::Decode("Bakong answered success without a transaction".to_owned())
        })?;
        return BakongTransaction::try_from(data).map(Some);
    }
    match envelope.error_code {
        // A failed payment and Bakong's undocumented "pending" (no errorCode) are both "no
        // successful payment yet"; reading them as unpaid can only delay a confirmation.
        None | Some(ERROR_NOT_FOUND) | Some(ERROR_TRANSACTION_FAILED)
            if envelope.response_code == RESPONSE_CODE_FAIL =>
        {
            if envelope.error_code == Some(ERROR_TRANSACTION_FAILED) {
                tracing::warn!(
                    bakong.error_code = ERROR_TRANSACTION_FAILED,
                    "Bakong reports the transaction failed; treating it as not paid"
                );
            }
            Ok(None)
        }
        _ => Err(envelope_error(&envelope)),
    }
}

/// What a list envelope means: one checked entry per item, or an error for the whole call.
///
/// Each item is read on its own (the envelope keeps them raw): an item that cannot be read,
/// or a `SUCCESS` item without a readable transaction, becomes an entry with
/// [`Md5ListEntry::undecodable`] set, for the md5 it names, or with an empty md5 when even
/// that cannot be read. It is never read as paid, and it does not fail the other items.
///
/// # Errors
///
/// As [`transaction_outcome`] for a failed envelope; [`AdapterError::Decode`] when the data
/// is missing.
pub fn list_outcome(
    envelope: BakongEnvelope<Vec<Box<RawValue>>>,
) -> Result<Vec<Md5ListEntry>, AdapterError> {
    if envelope.response_code != RESPONSE_CODE_SUCCESS {
        return Err(envelope_error(&envelope));
    }
    let items = envelope.data.ok_or_else(|| {
        AdapterError::Decode("Bakong answered the md5 list without data".to_owned())
    })?;
    Ok(items.iter().map(|raw| list_entry(raw)).collect())
}

/// One list item, read and checked.
fn list_entry(raw: &RawValue) -> Md5ListEntry {
    let item: Md5ListItem = match serde_json::from_str(raw.get()) {
        Ok(item) => item,
        Err(error) => {
            let why = format!(
                "Bakong list item is not readable: {}",
                bounded(&error.to_string())
            );
            return match serde_json::from_str::<ItemMd5>(raw.get()) {
                Ok(named) => Md5ListEntry::undecodable(
                    named.md5,
                    Md5Status::from(
                        named
                            .status
                            .and_then(|status| status.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    ),
                    why,
                ),
                Err(_) => {
                    Md5ListEntry::undecodable(String::new(), Md5Status::Other(String::new()), why)
                }
            };
        }
    };
    let transaction = match (&item.status, item.data) {
        (Md5Status::Success, Some(data)) => match BakongTransaction::try_from(data) {
            Ok(transaction) => Some(transaction),
            Err(error) => {
                return Md5ListEntry::undecodable(item.md5, item.status, error.to_string())
            }
        },
        (Md5Status::Success, None) => {
            let why = format!(
                "Bakong answered SUCCESS for md5 {} without a transaction",
                bounded(&item.md5)
            );
            return Md5ListEntry::undecodable(item.md5, item.status, why);
        }
        // Only SUCCESS confirms a payment; data beside another status is ignored.
        (_, _) => None,
    };
    Md5ListEntry {
        md5: item.md5,
        status: item.status,
        transaction,
        undecodable: None,
    }
}

/// Lines a list answer up with the md5s asked for (deduplicated, in order).
///
/// # Errors
///
/// [`AdapterError::Decode`] when the answer leaves one out, names one not asked for, or
/// answers one twice differently: an answer that does not line up cannot be trusted for any.
/// An item too broken to name its md5 is the exception: it may be the answer for any md5
/// left out, so those md5s are answered "undecodable" (not paid) instead.
pub(crate) fn match_answers(
    asked: &[&str],
    entries: Vec<Md5ListEntry>,
) -> Result<Vec<Md5ListEntry>, AdapterError> {
    let mut by_md5: HashMap<String, Md5ListEntry> = HashMap::with_capacity(entries.len());
    let mut nameless: Option<String> = None;
    for entry in entries {
        if entry.md5.is_empty() && entry.undecodable.is_some() {
            nameless = entry.undecodable;
            continue;
        }
        if !asked.contains(&entry.md5.as_str()) {
            return Err(AdapterError::Decode(format!(
                "Bakong answered about md5 {} that was not asked for",
                bounded(&entry.md5)
            )));
        }
        if let Some(previous) = by_md5.get(&entry.md5) {
            if *previous != entry {
                return Err(AdapterError::Decode(format!(
                    "Bakong answered md5 {} twice, differently",
                    bounded(&entry.md5)
                )));
            }
            continue;
        }
        by_md5.insert(entry.md5.clone(), entry);
    }
    asked
        .iter()
        .map(|md5| match (by_md5.remove(*md5), &nameless) {
            (Some(entry), _) => Ok(entry),
            (None, Some(why)) => Ok(Md5ListEntry::undecodable(
                (*md5).to_owned(),
                Md5Status::Other(String::new()),
                why.clone(),
            )),
            (None, None) => Err(AdapterError::Decode(format!(
                "Bakong's answer leaves out md5 {md5}"
            ))),
        })
        .collect()
}

/// The error for a failed envelope (never called for not-found, which is not an error).
fn envelope_error<T>(envelope: &BakongEnvelope<T>) -> AdapterError {
    let message = bounded(&envelope.response_message);
    match envelope.error_code {
        Some(ERROR_UNAUTHORIZED) => AdapterError::Unauthorized,
        Some(
            code @ (ERROR_STATIC_QR
            | ERROR_MISSING_FIELDS
            | ERROR_ACCOUNT_NOT_FOUND
            | ERROR_ACCOUNT_INVALID),
        ) => AdapterError::InvalidInput(format!(
            "Bakong refused the request: errorCode {code}: {message}"
        )),
        // An outage behind Bakong's front door: the same call can succeed later.
        Some(ERROR_CANNOT_CONNECT) => AdapterError::Transport(format!(
            "Bakong cannot reach its own server (errorCode 9): {message}"
        )),
        code => AdapterError::Decode(format!(
            "unexpected Bakong answer: responseCode {}, errorCode {}: {message}",
            envelope.response_code,
            code.map_or_else(|| "null".to_owned(), |code| code.to_string()),
        )),
    }
}

/// Checks a text field from Bakong: 1 to 255 characters, no control characters.
fn check_field(name: &str, value: &str) -> Result<(), String> {
    crate::text::check_text(name, value, MAX_FIELD_CHARS)
}

/// A printable, bounded copy of text from Bakong for error messages, which end up in logs.
fn bounded(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MESSAGE_CHARS)
        .collect()
}

/// Reads a JSON number into a `Decimal` from its text, exactly.
///
/// serde_json would otherwise hand us an `f64`, and `0.1` or `1234567.89` would arrive
/// already rounded to binary.
fn deserialize_json_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    decimal_from_json_number(raw.get()).map_err(D::Error::custom)
}

/// Writes a `Decimal` as a bare JSON number with its scale (`1.50`, `100`).
fn serialize_json_number<S: Serializer>(
    amount: &Decimal,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let raw = RawValue::from_string(amount.to_string()).map_err(serde::ser::Error::custom)?;
    raw.serialize(serializer)
}

/// Parses the text of a JSON number (as serde_json validated it) into a `Decimal`, refusing
/// anything that would lose digits.
pub(crate) fn decimal_from_json_number(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err("amount must be a JSON number".to_owned());
    }
    let precise =
        |error: rust_decimal::Error| format!("amount {text} does not fit a decimal: {error}");
    match text.split_once(['e', 'E']) {
        None => Decimal::from_str_exact(text).map_err(precise),
        Some((mantissa, _)) => {
            // from_scientific would round a mantissa longer than 28 digits; refuse it instead.
            Decimal::from_str_exact(mantissa).map_err(precise)?;
            Decimal::from_scientific(text).map_err(precise)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use std::str::FromStr as _;

    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn json_numbers_become_exact_decimals() {
        for (text, expected) in [
            ("1.50", "1.50"),
            ("100", "100"),
            ("0.1", "0.1"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("1234567.89", "1234567.89"),
            ("9999999999999.99", "9999999999999.99"),
            ("1.0E7", "10000000"),
            ("1.5e+2", "150"),
            ("25e-2", "0.25"),
        ] {
            let value = decimal_from_json_number(text).unwrap();
            assert_eq!(value.to_string(), expected, "{text}");
        }
        assert!(decimal_from_json_number("\"1.50\"").is_err());
        assert!(decimal_from_json_number("true").is_err());
        // More digits than a Decimal holds would be rounded: refuse.
        assert!(decimal_from_json_number("0.12345678901234567890123456789").is_err());
        assert!(decimal_from_json_number("1.23456789012345678901234567891e3").is_err());
    }

    #[test]
    fn decimals_serialize_as_bare_numbers_with_their_scale() {
        let data = TransactionData {
            hash: "a".repeat(64),
            from_account_id: Some("payer@aclb".to_owned()),
            to_account_id: Some("office@aclb".to_owned()),
            currency: "USD".to_owned(),
            amount: dec("1.50"),
            description: None,
            created_date_ms: 1_700_000_000_000,
            acknowledged_date_ms: Some(1_700_000_000_001),
            external_ref: None,
            instruction_ref: None,
        };
        let text = serde_json::to_string(&data).unwrap();
        assert!(text.contains(r#""amount":1.50"#), "{text}");
        assert!(text.contains(r#""createdDateMs":1700000000000"#), "{text}");
        let back: TransactionData = serde_json::from_str(&text).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn md5_status_round_trips_and_keeps_unknown_values() {
        for (text, status) in [
            ("SUCCESS", Md5Status::Success),
            ("NOT_FOUND", Md5Status::NotFound),
            ("STATIC_QR", Md5Status::StaticQr),
            ("FAILED", Md5Status::Failed),
            ("PENDING", Md5Status::Other("PENDING".to_owned())),
        ] {
            let parsed: Md5Status = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(parsed, status);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{text}\"")
            );
        }
    }

    fn entry(md5: &str, status: Md5Status) -> Md5ListEntry {
        Md5ListEntry {
            md5: md5.to_owned(),
            status,
            transaction: None,
            undecodable: None,
        }
    }

    #[test]
    fn list_answers_must_line_up_with_the_question() {
        let asked = ["a", "b"];
        let lined = match_answers(
            &asked,
            vec![
                entry("b", Md5Status::NotFound),
                entry("a", Md5Status::Failed),
            ],
        )
        .unwrap();
        assert_eq!(lined[0].md5, "a");
        assert_eq!(lined[1].md5, "b");
        assert!(match_answers(&asked, vec![entry("a", Md5Status::NotFound)]).is_err());
        assert!(match_answers(
            &asked,
            vec![
                entry("a", Md5Status::NotFound),
                entry("b", Md5Status::NotFound),
                entry("c", Md5Status::NotFound)
            ]
        )
        .is_err());
        assert!(match_answers(
            &asked,
            vec![
                entry("a", Md5Status::NotFound),
                entry("a", Md5Status::Failed),
                entry("b", Md5Status::NotFound)
            ]
        )
        .is_err());
    }

    #[test]
    fn an_item_without_an_md5_may_answer_only_for_those_left_out() {
        let asked = ["a", "b", "c"];
        let nameless = Md5ListEntry::undecodable(
            String::new(),
            Md5Status::Other(String::new()),
            "unreadable".to_owned(),
        );
        let lined = match_answers(
            &asked,
            vec![
                entry("c", Md5Status::NotFound),
                nameless.clone(),
                entry("a", Md5Status::Success),
            ],
        )
        .unwrap();
        let read: Vec<(&str, bool)> = lined
            .iter()
            .map(|entry| (entry.md5.as_str(), entry.undecodable.is_some()))
            .collect();
        assert_eq!(read, vec![("a", false), ("b", true), ("c", false)]);
        // It does not excuse an md5 that was never asked.
        assert!(match_answers(&asked, vec![nameless, entry("x", Md5Status::NotFound)]).is_err());
    }
}
