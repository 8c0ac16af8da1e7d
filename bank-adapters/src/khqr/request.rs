//! What a caller asks the encoder for, and what it gets back.

use std::borrow::Cow;

use rust_decimal::Decimal;

/// Currency of a KHQR (tag 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Currency {
    /// Cambodian riel, ISO 4217 numeric 116; whole riel only.
    Khr,
    /// US dollar, ISO 4217 numeric 840; at most 2 decimals.
    Usd,
}

impl Currency {
    /// The ISO 4217 numeric code written in tag 53.
    #[must_use]
    pub fn numeric_code(self) -> &'static str {
        match self {
            Self::Khr => "116",
            Self::Usd => "840",
        }
    }

    /// The currency of an ISO 4217 numeric code as written in tag 53.
    #[must_use]
    pub fn from_numeric_code(code: &str) -> Option<Self> {
        match code {
            "116" => Some(Self::Khr),
            "840" => Some(Self::Usd),
            _ => None,
        }
    }
}

/// Whose account the QR pays into: tag 29 (individual) or tag 30 (merchant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKind {
    /// Tag 29. Both sub-fields are optional.
    Individual {
        /// Sub-tag 01, at most 32 UTF-16 code units.
        account_information: Option<String>,
        /// Sub-tag 02, at most 32 UTF-16 code units.
        acquiring_bank: Option<String>,
    },
    /// Tag 30. Both sub-fields are required.
    Merchant {
        /// Sub-tag 01, 1–32 UTF-16 code units.
        merchant_id: String,
        /// Sub-tag 02, 1–32 UTF-16 code units.
        acquiring_bank: String,
    },
}

/// Everything a KHQR can carry, typed. Lengths are in UTF-16 code units (JS `.length`).
///
/// Empty strings behave as in the SDK after construction: an empty merchant city means
/// "Phnom Penh"; an empty UPI account is left out; a template (62 or 64) whose fields are all
/// empty is left out, but an empty field beside a filled one is refused with that field's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KhqrRequest {
    /// Tag 29 or 30 and its account sub-fields.
    pub kind: AccountKind,
    /// Sub-tag 00 of tag 29/30: `name@bank`, at most 32 code units.
    pub bakong_account_id: String,
    /// Tag 59, 1–25 code units.
    pub merchant_name: String,
    /// Tag 60, at most 15 code units; `None` or empty means "Phnom Penh".
    pub merchant_city: Option<String>,
    /// Tag 53.
    pub currency: Currency,
    /// Tag 54. `None` or zero makes a static QR (tag 01 = "11"); anything else a dynamic one,
    /// which needs [`Self::expiration_ms`].
    ///
    /// KHR: a whole number (any scale), written without decimals. USD: the scale decides the
    /// form, as the SDK does for decimal strings: scale 0 is written as an integer (`10`),
    /// scale 1 or 2 with exactly two decimals (`10.00`); a scale above 2 is refused (code 4).
    /// At most 13 characters once written; negative amounts are refused.
    pub amount: Option<Decimal>,
    /// Tag 99 sub-tag 01, milliseconds since the epoch, 13 digits; required for a dynamic QR,
    /// ignored for a static one.
    pub expiration_ms: Option<i64>,
    /// Tag 52, exactly 4 digits; `None` means "5999".
    pub mcc: Option<String>,
    /// Tag 62 sub-tag 01, 1–25 code units.
    pub bill_number: Option<String>,
    /// Tag 62 sub-tag 02, 1–25 code units.
    pub mobile_number: Option<String>,
    /// Tag 62 sub-tag 03, 1–25 code units.
    pub store_label: Option<String>,
    /// Tag 62 sub-tag 07, 1–25 code units.
    pub terminal_label: Option<String>,
    /// Tag 62 sub-tag 08, 1–25 code units.
    pub purpose_of_transaction: Option<String>,
    /// Tag 64 sub-tag 00, 2 ASCII letters (ISO 639-1, e.g. "km"); required with an alternate name.
    pub language_preference: Option<String>,
    /// Tag 64 sub-tag 01, 1–25 code units; required with a language preference.
    pub merchant_name_alternate_language: Option<String>,
    /// Tag 64 sub-tag 02, 1–15 code units.
    pub merchant_city_alternate_language: Option<String>,
    /// Tag 15 (UnionPay), at most 99 code units; KHR only.
    pub upi_merchant_account: Option<String>,
}

impl KhqrRequest {
    /// A static KHR request with only the required fields; set the others with struct update
    /// syntax or field assignment.
    #[must_use]
    pub fn new(
        kind: AccountKind,
        bakong_account_id: impl Into<String>,
        merchant_name: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            bakong_account_id: bakong_account_id.into(),
            merchant_name: merchant_name.into(),
            merchant_city: None,
            currency: Currency::Khr,
            amount: None,
            expiration_ms: None,
            mcc: None,
            bill_number: None,
            mobile_number: None,
            store_label: None,
            terminal_label: None,
            purpose_of_transaction: None,
            language_preference: None,
            merchant_name_alternate_language: None,
            merchant_city_alternate_language: None,
            upi_merchant_account: None,
        }
    }
}

/// [`AccountKind`] with borrowed texts (see [`RequestView`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KindView<'a> {
    /// Tag 29.
    Individual {
        account_information: Option<Cow<'a, str>>,
        acquiring_bank: Option<Cow<'a, str>>,
    },
    /// Tag 30.
    Merchant {
        merchant_id: Cow<'a, str>,
        acquiring_bank: Cow<'a, str>,
    },
}

/// [`KhqrRequest`] with its texts borrowed: from a `KhqrRequest` (the typed API), or from
/// SDK-shaped JSON (owned only where a JavaScript conversion made a new text, such as a number
/// written as text). The encoder reads this, so that reading JSON copies no text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestView<'a> {
    pub(crate) kind: KindView<'a>,
    pub(crate) bakong_account_id: Cow<'a, str>,
    pub(crate) merchant_name: Cow<'a, str>,
    pub(crate) merchant_city: Option<Cow<'a, str>>,
    pub(crate) currency: Currency,
    pub(crate) amount: Option<Decimal>,
    pub(crate) expiration_ms: Option<i64>,
    pub(crate) mcc: Option<Cow<'a, str>>,
    pub(crate) bill_number: Option<Cow<'a, str>>,
    pub(crate) mobile_number: Option<Cow<'a, str>>,
    pub(crate) store_label: Option<Cow<'a, str>>,
    pub(crate) terminal_label: Option<Cow<'a, str>>,
    pub(crate) purpose_of_transaction: Option<Cow<'a, str>>,
    pub(crate) language_preference: Option<Cow<'a, str>>,
    pub(crate) merchant_name_alternate_language: Option<Cow<'a, str>>,
    pub(crate) merchant_city_alternate_language: Option<Cow<'a, str>>,
    pub(crate) upi_merchant_account: Option<Cow<'a, str>>,
}

fn borrow(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

fn own(text: &Option<Cow<'_, str>>) -> Option<String> {
    text.as_deref().map(str::to_owned)
}

impl<'a> RequestView<'a> {
    /// A view of `request`, borrowing every text.
    pub(crate) fn of(request: &'a KhqrRequest) -> Self {
        let kind = match &request.kind {
            AccountKind::Individual {
                account_information,
                acquiring_bank,
            } => KindView::Individual {
                account_information: borrow(account_information),
                acquiring_bank: borrow(acquiring_bank),
            },
            AccountKind::Merchant {
                merchant_id,
                acquiring_bank,
            } => KindView::Merchant {
                merchant_id: Cow::Borrowed(merchant_id),
                acquiring_bank: Cow::Borrowed(acquiring_bank),
            },
        };
        Self {
            kind,
            bakong_account_id: Cow::Borrowed(&request.bakong_account_id),
            merchant_name: Cow::Borrowed(&request.merchant_name),
            merchant_city: borrow(&request.merchant_city),
            currency: request.currency,
            amount: request.amount,
            expiration_ms: request.expiration_ms,
            mcc: borrow(&request.mcc),
            bill_number: borrow(&request.bill_number),
            mobile_number: borrow(&request.mobile_number),
            store_label: borrow(&request.store_label),
            terminal_label: borrow(&request.terminal_label),
            purpose_of_transaction: borrow(&request.purpose_of_transaction),
            language_preference: borrow(&request.language_preference),
            merchant_name_alternate_language: borrow(&request.merchant_name_alternate_language),
            merchant_city_alternate_language: borrow(&request.merchant_city_alternate_language),
            upi_merchant_account: borrow(&request.upi_merchant_account),
        }
    }

    /// The typed request this view reads.
    pub(crate) fn to_request(&self) -> KhqrRequest {
        let kind = match &self.kind {
            KindView::Individual {
                account_information,
                acquiring_bank,
            } => AccountKind::Individual {
                account_information: own(account_information),
                acquiring_bank: own(acquiring_bank),
            },
            KindView::Merchant {
                merchant_id,
                acquiring_bank,
            } => AccountKind::Merchant {
                merchant_id: String::from(merchant_id.as_ref()),
                acquiring_bank: String::from(acquiring_bank.as_ref()),
            },
        };
        KhqrRequest {
            kind,
            bakong_account_id: String::from(self.bakong_account_id.as_ref()),
            merchant_name: String::from(self.merchant_name.as_ref()),
            merchant_city: own(&self.merchant_city),
            currency: self.currency,
            amount: self.amount,
            expiration_ms: self.expiration_ms,
            mcc: own(&self.mcc),
            bill_number: own(&self.bill_number),
            mobile_number: own(&self.mobile_number),
            store_label: own(&self.store_label),
            terminal_label: own(&self.terminal_label),
            purpose_of_transaction: own(&self.purpose_of_transaction),
            language_preference: own(&self.language_preference),
            merchant_name_alternate_language: own(&self.merchant_name_alternate_language),
            merchant_city_alternate_language: own(&self.merchant_city_alternate_language),
            upi_merchant_account: own(&self.upi_merchant_account),
        }
    }
}

/// An encoded KHQR.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Khqr {
    /// The QR payload string.
    pub qr: String,
    /// Lowercase hex MD5 of the UTF-8 bytes of `qr` (Bakong's payment lookup key).
    pub md5: String,
}
