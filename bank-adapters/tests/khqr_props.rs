//! Properties of the KHQR codec: round trip, single-character corruption, and total,
//! bounded decoding of arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use bank_adapters::khqr::{
    self, cli::decode_command, AccountKind, Currency, DecodedKhqr, KhqrRequest,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Characters that exercise 1-, 2-, 3- and 4-byte UTF-8 and surrogate pairs.
const CHARS: &[char] = &[
    'a', 'Z', '0', '9', ' ', '#', '-', '.', '@', 'é', 'ñ', 'ក', 'ខ', 'ភ', '្', 'ំ', '😀', '🙏',
];

/// Text of 1..=`max` UTF-16 code units.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(CHARS), 1..=max).prop_map(move |chars| {
        let mut out = String::new();
        for c in chars {
            if out.encode_utf16().count() + c.len_utf16() > max {
                break;
            }
            out.push(c);
        }
        if out.is_empty() {
            out.push('x');
        }
        out
    })
}

fn bakong_account_id() -> impl Strategy<Value = String> {
    ("[a-z0-9_.]{1,20}", "[a-z]{1,8}").prop_map(|(name, bank)| format!("{name}@{bank}"))
}

fn kind() -> impl Strategy<Value = AccountKind> {
    prop_oneof![
        (prop::option::of(text(25)), prop::option::of(text(25))).prop_map(
            |(account_information, acquiring_bank)| AccountKind::Individual {
                account_information,
                acquiring_bank,
            }
        ),
        (text(25), text(25)).prop_map(|(merchant_id, acquiring_bank)| AccountKind::Merchant {
            merchant_id,
            acquiring_bank,
        }),
    ]
}

/// A dynamic amount in `currency`, in any of the forms the encoder accepts.
fn amount(currency: Currency) -> BoxedStrategy<Decimal> {
    match currency {
        Currency::Khr => (1_i64..=9_999_999_999_999, 0_u32..=2)
            .prop_map(|(riel, scale)| {
                let mut amount = Decimal::from(riel);
                amount.rescale(scale);
                amount
            })
            .boxed(),
        Currency::Usd => (1_i64..=99_999_999_999, 0_u32..=2)
            .prop_map(|(cents, scale)| match scale {
                0 => Decimal::from(cents),
                1 => Decimal::new(cents, 1),
                _ => Decimal::new(cents, 2),
            })
            .boxed(),
    }
}

const NOW_MIN: i64 = 1_767_225_600_000;

fn request() -> impl Strategy<Value = (KhqrRequest, i64)> {
    let currency = prop_oneof![Just(Currency::Khr), Just(Currency::Usd)];
    let additional = prop::collection::vec(prop::option::of(text(15)), 5);
    let language = prop::option::of(("[a-z]{2}", text(25), prop::option::of(text(15))));
    let base = (
        kind(),
        bakong_account_id(),
        text(25),
        prop::option::of(text(15)),
        prop::option::of("[0-9]{4}"),
        NOW_MIN..1_900_000_000_000_i64,
    );
    (
        base,
        currency,
        additional,
        language,
        prop::option::of(text(99)),
    )
        .prop_flat_map(|(base, currency, additional, language, upi)| {
            let amount = prop::option::of(amount(currency));
            let lifetime = 0_i64..10_000_000_000;
            (
                Just((base, currency, additional, language, upi)),
                amount,
                lifetime,
            )
        })
        .prop_map(
            |((base, currency, additional, language, upi), amount, lifetime)| {
                let (kind, id, name, city, mcc, now) = base;
                let mut req = KhqrRequest::new(kind, id, name);
                req.merchant_city = city;
                req.mcc = mcc;
                req.currency = currency;
                req.expiration_ms = amount.map(|_| now + lifetime);
                req.amount = amount;
                let [bill, mobile, store, terminal, purpose] =
                    <[Option<String>; 5]>::try_from(additional).unwrap();
                req.bill_number = bill;
                req.mobile_number = mobile;
                req.store_label = store;
                req.terminal_label = terminal;
                req.purpose_of_transaction = purpose;
                if let Some((preference, alternate_name, alternate_city)) = language {
                    req.language_preference = Some(preference);
                    req.merchant_name_alternate_language = Some(alternate_name);
                    req.merchant_city_alternate_language = alternate_city;
                }
                req.upi_merchant_account = upi.filter(|_| currency == Currency::Khr);
                (req, now)
            },
        )
}

/// Whether `decoded` says exactly what `req` asked for (defaults filled in).
fn matches(req: &KhqrRequest, now: i64, decoded: &DecodedKhqr<'_>) -> Result<(), String> {
    let (merchant_type, account_information, merchant_id, acquiring_bank) = match &req.kind {
        AccountKind::Individual {
            account_information,
            acquiring_bank,
        } => (
            "29",
            account_information.clone(),
            None,
            acquiring_bank.clone(),
        ),
        AccountKind::Merchant {
            merchant_id,
            acquiring_bank,
        } => (
            "30",
            None,
            Some(merchant_id.clone()),
            Some(acquiring_bank.clone()),
        ),
    };
    let amount = decoded
        .transaction_amount
        .map(|text| Decimal::from_str(text).unwrap());
    let dynamic = req.amount.is_some();
    let checks = [
        ("merchantType", decoded.merchant_type == Some(merchant_type)),
        (
            "bakongAccountID",
            decoded.bakong_account_id == Some(req.bakong_account_id.as_str()),
        ),
        (
            "accountInformation",
            decoded.account_information == account_information.as_deref(),
        ),
        ("merchantID", decoded.merchant_id == merchant_id.as_deref()),
        (
            "acquiringBank",
            decoded.acquiring_bank == acquiring_bank.as_deref(),
        ),
        (
            "merchantName",
            decoded.merchant_name == Some(req.merchant_name.as_str()),
        ),
        (
            "merchantCity",
            decoded.merchant_city == Some(req.merchant_city.as_deref().unwrap_or("Phnom Penh")),
        ),
        (
            "merchantCategoryCode",
            decoded.merchant_category_code == Some(req.mcc.as_deref().unwrap_or("5999")),
        ),
        (
            "transactionCurrency",
            decoded.transaction_currency == Some(req.currency.numeric_code()),
        ),
        ("transactionAmount", amount == req.amount),
        (
            "pointofInitiationMethod",
            decoded.point_of_initiation_method == Some(if dynamic { "12" } else { "11" }),
        ),
        (
            "creationTimestamp",
            decoded.creation_timestamp == dynamic.then(|| now.to_string()).as_deref(),
        ),
        (
            "expirationTimestamp",
            decoded.expiration_timestamp == req.expiration_ms.map(|ms| ms.to_string()).as_deref(),
        ),
        (
            "billNumber",
            decoded.bill_number == req.bill_number.as_deref(),
        ),
        (
            "mobileNumber",
            decoded.mobile_number == req.mobile_number.as_deref(),
        ),
        (
            "storeLabel",
            decoded.store_label == req.store_label.as_deref(),
        ),
        (
            "terminalLabel",
            decoded.terminal_label == req.terminal_label.as_deref(),
        ),
        (
            "purposeOfTransaction",
            decoded.purpose_of_transaction == req.purpose_of_transaction.as_deref(),
        ),
        (
            "languagePreference",
            decoded.language_preference == req.language_preference.as_deref(),
        ),
        (
            "merchantNameAlternateLanguage",
            decoded.merchant_name_alternate_language
                == req.merchant_name_alternate_language.as_deref(),
        ),
        (
            "merchantCityAlternateLanguage",
            decoded.merchant_city_alternate_language
                == req.merchant_city_alternate_language.as_deref(),
        ),
        (
            "unionPayMerchant",
            decoded.union_pay_merchant == req.upi_merchant_account.as_deref(),
        ),
        ("countryCode", decoded.country_code == Some("KH")),
        (
            "payloadFormatIndicator",
            decoded.payload_format_indicator == Some("01"),
        ),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        Some((field, _)) => Err(format!("{field} differs: {decoded:?}")),
        None => Ok(()),
    }
}

/// Replacement for the character at a position, keeping its UTF-8 length so that the change
/// is a burst of at most 16 bits, which CRC-16 always detects.
fn replacement(original: char, pick: u8) -> Option<char> {
    const KHMER: &[char] = &['ក', 'ខ', 'គ', 'ឃ', 'ង', 'ច', 'ឆ', 'ជ', 'ឈ', 'ញ'];
    let candidate = match original.len_utf8() {
        1 => char::from(b' ' + pick % 95),
        3 if ('\u{1780}'..='\u{17FF}').contains(&original) => {
            *KHMER.get(usize::from(pick) % KHMER.len())?
        }
        _ => return None,
    };
    (candidate != original).then_some(candidate)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_inverts_encode((req, now) in request()) {
        let khqr = khqr::encode(&req, now).map_err(|error| TestCaseError::fail(format!("{error}: {req:?}")))?;
        prop_assert_eq!(&khqr.md5, &khqr::md5_hex(&khqr.qr));
        let decoded = khqr::decode(&khqr.qr).map_err(|error| TestCaseError::fail(format!("{error}: {}", khqr.qr)))?;
        matches(&req, now, &decoded).map_err(TestCaseError::fail)?;
        let verification = khqr::verify(&khqr.qr, now);
        prop_assert!(verification.is_valid(), "{:?} {}", verification.error, khqr.qr);
        prop_assert!(decoded.unmapped.is_empty());
    }

    #[test]
    fn any_single_character_change_fails_verification(
        (req, now) in request(),
        position in any::<prop::sample::Index>(),
        pick in any::<u8>(),
    ) {
        let qr = khqr::encode(&req, now).unwrap().qr;
        let chars: Vec<char> = qr.chars().collect();
        let index = position.index(chars.len());
        let Some(new) = chars.get(index).and_then(|&original| replacement(original, pick)) else {
            return Ok(());
        };
        let changed: String = chars
            .iter()
            .enumerate()
            .map(|(at, &c)| if at == index { new } else { c })
            .collect();
        prop_assert_ne!(&changed, &qr);
        let verification = khqr::verify(&changed, now);
        prop_assert!(!verification.is_valid(), "accepted {changed} (from {qr})");
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>(), now in any::<i64>()) {
        let start = Instant::now();
        let _ = khqr::decode(&input);
        let _ = khqr::inspect(&input);
        let _ = decode_command(&input, now);
        prop_assert!(start.elapsed() < Duration::from_millis(200));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        let input = String::from_utf8_lossy(&bytes);
        let _ = khqr::verify(&input, NOW_MIN);
    }

    #[test]
    fn tlv_shaped_garbage_never_panics(
        digits in "[0-9]{0,600}",
        (req, now) in request(),
        cut in any::<prop::sample::Index>(),
        insert in "[0-9A-Za-z😀ក]{0,8}",
    ) {
        let _ = khqr::verify(&digits, now);
        let _ = khqr::verify(&format!("{digits}6304ABCD"), now);
        let qr = khqr::encode(&req, now).unwrap().qr;
        let chars: Vec<char> = qr.chars().collect();
        let at = cut.index(chars.len() + 1);
        let truncated: String = chars.iter().take(at).collect();
        let spliced: String = chars
            .iter()
            .take(at)
            .copied()
            .chain(insert.chars())
            .chain(chars.iter().skip(at).copied())
            .collect();
        for input in [truncated, spliced] {
            let start = Instant::now();
            let _ = khqr::verify(&input, now);
            prop_assert!(start.elapsed() < Duration::from_millis(200));
        }
    }

    #[test]
    fn cli_encode_never_panics(input in any::<String>(), json in "\\{.{0,200}\\}") {
        let _ = khqr::cli::encode_command(&input, NOW_MIN);
        let _ = khqr::cli::encode_command(&json, NOW_MIN);
    }
}

#[test]
fn huge_and_pathological_inputs_are_refused_quickly() {
    let now = NOW_MIN;
    let megabyte = "0".repeat(1 << 20);
    let nested = format!("000201{}", "62990199".repeat(1 << 17));
    let three_digit = "000201010211301080032aaaaaaaaaaaaaaaaaaaaaaaaaaa@abcd0132MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM0232BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB5204599953031165802KH5901N6001C6304D049";
    let non_tlv_template = "00020101021229180014jonhsmith@nbcq52045999530384054041.505802KH5910Jonh Smith6010Phnom Penh6204ABCD9934001317672280004800113410244480000063040244";
    let emoji_megabyte = "😀".repeat(1 << 18);
    for input in [
        megabyte.as_str(),
        &nested,
        three_digit,
        non_tlv_template,
        &emoji_megabyte,
        "",
        "6304",
        "63040000",
    ] {
        let start = Instant::now();
        let verification = khqr::verify(input, now);
        assert!(!verification.is_valid(), "{input:.80}");
        assert!(khqr::decode(input).is_err());
        let output = decode_command(input, now);
        assert_eq!(output.exit_code, 1);
        assert!(start.elapsed() < Duration::from_millis(500), "{input:.80}");
    }
}

#[test]
fn khqr_error_codes_are_stable() {
    use bank_adapters::khqr::KhqrError;
    assert_eq!(KhqrError::BakongAccountIdRequired.code(), 1);
    assert_eq!(KhqrError::InvalidMerchantCategoryCode.code(), 51);
    assert_eq!(
        KhqrError::KhqrExpired.message(),
        "This dynamic KHQR has expired"
    );
    assert!(KhqrError::CrcFormat.code() >= 100);
}
