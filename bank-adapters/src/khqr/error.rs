//! The error type of the KHQR codec.

/// Why a KHQR could not be generated, decoded or verified.
///
/// Codes 1–51 are the official SDK's (`bakong-khqr@1.0.20`, `src/constant/errorCode.js`): the
/// variant carries the SDK's code and its exact message. Codes from 100 up are ours, for checks
/// the SDK does not make (see the `DIFFERENCES` section of the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KhqrError {
    /// SDK code 1.
    #[error("Bakong Account ID cannot be null or empty")]
    BakongAccountIdRequired,
    /// SDK code 2.
    #[error("Merchant name cannot be null or empty")]
    MerchantNameRequired,
    /// SDK code 3. We also raise it when the ID does not hold exactly one `@` between two
    /// non-empty parts (the SDK only asks for at least one `@`).
    #[error("Bakong Account ID is invalid")]
    BakongAccountIdInvalid,
    /// SDK code 4.
    #[error("Amount is invalid")]
    TransactionAmountInvalid,
    /// SDK code 5: neither tag 29 nor tag 30 is present.
    #[error("Merchant type cannot be null or empty")]
    MerchantTypeRequired,
    /// SDK code 6.
    #[error("Bakong Account ID Length is Invalid")]
    BakongAccountIdLengthInvalid,
    /// SDK code 7.
    #[error("Merchant Name Length is invalid")]
    MerchantNameLengthInvalid,
    /// SDK code 9.
    #[error("Currency type cannot be null or empty")]
    CurrencyTypeRequired,
    /// SDK code 10.
    #[error("Bill Name Length is invalid")]
    BillNumberLengthInvalid,
    /// SDK code 11.
    #[error("Store Label Length is invalid")]
    StoreLabelLengthInvalid,
    /// SDK code 12.
    #[error("Terminal Label Length is invalid")]
    TerminalLabelLengthInvalid,
    /// SDK code 16.
    #[error("Payload Format indicator Length is invalid")]
    PayloadFormatIndicatorLengthInvalid,
    /// SDK code 17.
    #[error("Point of initiation Length is invalid")]
    PointOfInitiationLengthInvalid,
    /// SDK code 18. We also raise it for a category code shorter than 4 digits.
    #[error("Merchant code Length is invalid")]
    MerchantCodeLengthInvalid,
    /// SDK code 19.
    #[error("Transaction currency Length is invalid")]
    TransactionCurrencyLengthInvalid,
    /// SDK code 20.
    #[error("Country code Length is invalid")]
    CountryCodeLengthInvalid,
    /// SDK code 21.
    #[error("Merchant city Length is invalid")]
    MerchantCityLengthInvalid,
    /// SDK code 23.
    #[error("Payload format indicator tag required")]
    PayloadFormatIndicatorTagRequired,
    /// SDK code 24.
    #[error("CRC tag required")]
    CrcTagRequired,
    /// SDK code 25.
    #[error("Merchant category tag required")]
    MerchantCategoryTagRequired,
    /// SDK code 26.
    #[error("Country Code cannot be null or empty")]
    CountryCodeTagRequired,
    /// SDK code 27.
    #[error("Merchant City cannot be null or empty")]
    MerchantCityTagRequired,
    /// SDK code 28.
    #[error("Unsupported currency")]
    UnsupportedCurrency,
    /// SDK code 30.
    #[error("Merchant ID cannot be null or empty")]
    MerchantIdRequired,
    /// SDK code 31.
    #[error("Acquiring Bank cannot be null or empty")]
    AcquiringBankRequired,
    /// SDK code 32.
    #[error("Merchant ID Length is invalid")]
    MerchantIdLengthInvalid,
    /// SDK code 33.
    #[error("Acquiring Bank Length is invalid")]
    AcquiringBankLengthInvalid,
    /// SDK code 34.
    #[error("Mobile Number Length is invalid")]
    MobileNumberLengthInvalid,
    /// SDK code 35.
    #[error("Account Information Length is invalid")]
    AccountInformationLengthInvalid,
    /// SDK code 36: tag 00 is not the first data object or tag 63 not the last.
    #[error("Tag is not in order")]
    TagNotInOrder,
    /// SDK code 37. The SDK never returns it (it crashes with a `TypeError` instead when an
    /// alternate-language name comes without a language preference); we do.
    #[error("Language Preference cannot be null or empty")]
    LanguagePreferenceRequired,
    /// SDK code 38.
    #[error("Language Preference Length is invalid")]
    LanguagePreferenceLengthInvalid,
    /// SDK code 39.
    #[error("Merchant Name Alternate Language cannot be null or empty")]
    MerchantNameAlternateLanguageRequired,
    /// SDK code 40.
    #[error("Merchant Name Alternate Language Length is invalid")]
    MerchantNameAlternateLanguageLengthInvalid,
    /// SDK code 41.
    #[error("Merchant City Alternate Language Length is invalid")]
    MerchantCityAlternateLanguageLengthInvalid,
    /// SDK code 42.
    #[error("Purpose of Transaction Length is invalid")]
    PurposeOfTransactionLengthInvalid,
    /// SDK code 43.
    #[error("Upi Account Information Length is invalid")]
    UpiAccountInformationLengthInvalid,
    /// SDK code 44.
    #[error("Upi Account Information Length does not accept USD")]
    UpiAccountInformationInvalidCurrency,
    /// SDK code 45.
    #[error("Expiration timestamp is required for dynamic KHQR")]
    ExpirationTimestampRequired,
    /// SDK code 46.
    #[error("This dynamic KHQR has expired")]
    KhqrExpired,
    /// SDK code 47.
    #[error("This dynamic KHQR has invalid field transaction amount")]
    InvalidDynamicKhqr,
    /// SDK code 48.
    #[error("Point of Initiation Method is invalid")]
    PointOfInitiationMethodInvalid,
    /// SDK code 49.
    #[error("Expiration timestamp length is invalid")]
    ExpirationTimestampLengthInvalid,
    /// SDK code 50.
    #[error("Expiration timestamp is in the past")]
    ExpirationTimestampInThePast,
    /// SDK code 51.
    #[error("Invalid merchant category code")]
    InvalidMerchantCategoryCode,

    /// Code 100: the string is longer than the 512 characters an EMV QR payload may hold.
    #[error("KHQR is {length_utf16} UTF-16 code units long; at most 512 are allowed")]
    InputTooLong {
        /// Length of the input in UTF-16 code units.
        length_utf16: usize,
    },
    /// Code 101: the string is not a clean list of `tag(2 digits) length(2 digits) value`.
    #[error("KHQR is not a well-formed TLV string at UTF-16 offset {offset}: {problem}")]
    MalformedTlv {
        /// UTF-16 offset (from the start of the whole string) where parsing failed.
        offset: usize,
        /// What was wrong there.
        problem: &'static str,
    },
    /// Code 102: a tag (or a sub-tag of a template) appears twice, or both 29 and 30 appear.
    #[error("KHQR holds tag {tag} more than once")]
    DuplicateTag {
        /// The tag, as `"59"` or `"62.01"` for a sub-tag.
        tag: String,
    },
    /// Code 104: a data object that the SDK would accept empty has length `00`.
    #[error("KHQR tag {tag} has an empty value")]
    EmptyValue {
        /// The tag, as `"62"` or `"29.01"` for a sub-tag.
        tag: String,
    },
    /// Code 105: a template would need a 3-digit length (the SDK writes one and produces a
    /// malformed QR).
    #[error("KHQR template {tag} would be {length_utf16} UTF-16 code units long; at most 99 are allowed")]
    TemplateTooLong {
        /// The template's tag.
        tag: &'static str,
        /// Length its value would have.
        length_utf16: usize,
    },
    /// Code 106: the string does not end with `6304` and four uppercase hexadecimal digits.
    #[error("KHQR must end with the CRC data object 6304 and 4 uppercase hexadecimal digits")]
    CrcFormat,
    /// Code 107: the CRC does not match the content.
    #[error("KHQR CRC is {found} but the content gives {computed}")]
    CrcMismatch {
        /// CRC written in the string.
        found: String,
        /// CRC computed over the string.
        computed: String,
    },
    /// Code 108: shorter than 12 characters (the SDK's minimum).
    #[error("KHQR is too short")]
    TooShort,
    /// Code 109: an input field has a JSON type the SDK cannot use (object, array, boolean).
    #[error("{field} must be a string")]
    InvalidFieldType {
        /// Name of the field, as the SDK spells it.
        field: &'static str,
    },
    /// Code 110: the clock does not give a 13-digit millisecond timestamp.
    #[error("the clock value {now_ms} is not a 13-digit millisecond timestamp")]
    ClockOutOfRange {
        /// The clock value passed in.
        now_ms: i64,
    },
    /// Code 111: tag 99 sub-tag 00 is not 13 digits.
    #[error("Creation timestamp is invalid")]
    CreationTimestampInvalid,
}

impl KhqrError {
    /// The numeric error code: the SDK's `errorCode` for codes below 100, ours from 100 up.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            Self::BakongAccountIdRequired => 1,
            Self::MerchantNameRequired => 2,
            Self::BakongAccountIdInvalid => 3,
            Self::TransactionAmountInvalid => 4,
            Self::MerchantTypeRequired => 5,
            Self::BakongAccountIdLengthInvalid => 6,
            Self::MerchantNameLengthInvalid => 7,
            Self::CurrencyTypeRequired => 9,
            Self::BillNumberLengthInvalid => 10,
            Self::StoreLabelLengthInvalid => 11,
            Self::TerminalLabelLengthInvalid => 12,
            Self::PayloadFormatIndicatorLengthInvalid => 16,
            Self::PointOfInitiationLengthInvalid => 17,
            Self::MerchantCodeLengthInvalid => 18,
            Self::TransactionCurrencyLengthInvalid => 19,
            Self::CountryCodeLengthInvalid => 20,
            Self::MerchantCityLengthInvalid => 21,
            Self::PayloadFormatIndicatorTagRequired => 23,
            Self::CrcTagRequired => 24,
            Self::MerchantCategoryTagRequired => 25,
            Self::CountryCodeTagRequired => 26,
            Self::MerchantCityTagRequired => 27,
            Self::UnsupportedCurrency => 28,
            Self::MerchantIdRequired => 30,
            Self::AcquiringBankRequired => 31,
            Self::MerchantIdLengthInvalid => 32,
            Self::AcquiringBankLengthInvalid => 33,
            Self::MobileNumberLengthInvalid => 34,
            Self::AccountInformationLengthInvalid => 35,
            Self::TagNotInOrder => 36,
            Self::LanguagePreferenceRequired => 37,
            Self::LanguagePreferenceLengthInvalid => 38,
            Self::MerchantNameAlternateLanguageRequired => 39,
            Self::MerchantNameAlternateLanguageLengthInvalid => 40,
            Self::MerchantCityAlternateLanguageLengthInvalid => 41,
            Self::PurposeOfTransactionLengthInvalid => 42,
            Self::UpiAccountInformationLengthInvalid => 43,
            Self::UpiAccountInformationInvalidCurrency => 44,
            Self::ExpirationTimestampRequired => 45,
            Self::KhqrExpired => 46,
            Self::InvalidDynamicKhqr => 47,
            Self::PointOfInitiationMethodInvalid => 48,
            Self::ExpirationTimestampLengthInvalid => 49,
            Self::ExpirationTimestampInThePast => 50,
            Self::InvalidMerchantCategoryCode => 51,
            Self::InputTooLong { .. } => 100,
            Self::MalformedTlv { .. } => 101,
            Self::DuplicateTag { .. } => 102,
            Self::EmptyValue { .. } => 104,
            Self::TemplateTooLong { .. } => 105,
            Self::CrcFormat => 106,
            Self::CrcMismatch { .. } => 107,
            Self::TooShort => 108,
            Self::InvalidFieldType { .. } => 109,
            Self::ClockOutOfRange { .. } => 110,
            Self::CreationTimestampInvalid => 111,
        }
    }

    /// The human-readable message: for SDK codes exactly the SDK's `message`.
    #[must_use]
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Whether this is one of the SDK's own error codes (below 100).
    #[must_use]
    pub fn is_sdk_code(&self) -> bool {
        self.code() < 100
    }
}
