//! KHQR (Bakong QR) encoder and strict decoder.
//!
//! KHQR is an EMVCo merchant-presented QR: a list of `tag(2 digits) length(2 digits) value`
//! data objects, lengths in UTF-16 code units (JS `.length`), ending with tag 63, a
//! CRC-16/CCITT-FALSE over the UTF-8 bytes up to and including `6304` (BANKS.md, "KHQR").
//! The reference is the official SDK, npm `bakong-khqr@1.0.20`; the vectors made with it are in
//! `tests/data/khqr-vectors.json` and `tests/khqr_vectors.rs` checks every one of them.
//!
//! * [`encode`]: a typed [`KhqrRequest`] → [`Khqr`] (`qr` and its `md5`). For every input the
//!   SDK accepts and writes sanely, the string is byte-identical to the SDK's; for every input
//!   the SDK refuses, the error has the SDK's code and message, found in the SDK's order
//!   (tag 15 → 29/30 → 52 → 53 → UPI+USD → 54 → 59 → 60 → 62 → 64 → 99).
//! * [`SdkRequest`]: the SDK's loosely typed input (JSON with JavaScript types: a currency or
//!   an amount as a number or a string, ...) read with the SDK's JavaScript conversions. It
//!   borrows the JSON's texts; [`SdkRequest::to_request`] gives the owned [`KhqrRequest`].
//! * [`inspect`] (structure only), [`decode`] (structure, CRC, every field rule that needs no
//!   clock) and [`verify`] (all that plus expiry at a given time). Decoded fields carry the
//!   SDK's `decode()` names ([`DecodedKhqr`]) and borrow their values from the decoded string.
//! * [`cli`]: `payments khqr encode|decode` as pure functions.
//! * [`KhqrError`]: the SDK's error codes 1–51 with its messages; ours from 100 up.
//!
//! Every function answers every input: no panic, no unbounded loop. Input longer than 512
//! UTF-16 code units is refused before parsing; parsing advances at least 4 code units per
//! data object and descends one level (templates 29, 30, 62, 64, 99).
//!
//! Speed (`make bench-khqr`, bench/khqr/README.md): encoding writes the string once into a
//! string sized beforehand, from texts borrowed from the request or the JSON; decoding walks
//! the string once, keeps what it found on the stack and borrows the values; neither copies a
//! text. The CRC is sliced 16 bytes at a time (crc.rs); the md5 (the md-5 crate) and the CRCs
//! are the largest fixed costs of an encode.
//!
//! # DIFFERENCES
//!
//! Where the SDK produces or accepts something malformed or surprising, we refuse it. Such a
//! refusal never hides an SDK error: the SDK's checks run first, in its order, and our own
//! stricter finding is reported only when all of them pass. Each difference below is
//! deliberate.
//!
//! Encoding (the SDK returns a QR; we return the error shown):
//!
//! 1. A template (29/30 or 62) longer than 99 code units: the SDK writes a 3-digit length
//!    (`30108...`), which no decoder reads, its own hangs on it. → 105 `TemplateTooLong`.
//! 2. A Bakong account ID without exactly one `@` between two non-empty parts (`"@"`, `"a@"`,
//!    `"a@b@c"`); the SDK only asks for at least one `@`. → 3.
//! 3. A merchant category code of 1–3 digits; the SDK writes `"1"` as `52011`. EMV's MCC is
//!    4 digits. → 18.
//! 4. An empty individual account information (typed API only); the SDK writes `0100`. → 35.
//! 5. Tag 64: an alternate-language name without a language preference makes the SDK return
//!    a `TypeError` as its QR (status success); an alternate city alone makes it write a
//!    template without the mandatory sub-tags 00 and 01. → 37. A language preference that is
//!    not 2 ASCII letters (the SDK allows any 1–2 characters, `"1"` or `"k"`) → 38.
//! 6. Amounts that JavaScript turns into something else than the text says: `"1,000.00"`
//!    (written `1.00` by `parseFloat`), `"abc"`, `" 5"`, `"01"` in USD (copied as typed),
//!    `"1e3"`, `1e21` (written `1e+21`), `true` (written `1`/`true`). → 4. We accept an amount
//!    exactly when our decimal reading gives the SDK's output: plain decimals, numbers, and
//!    `"1."`/`".5"` (written `1.00`/`0.50` by both).
//! 7. A currency that the SDK takes by `parseInt` but writes as typed (`116.5` → `5305116.5`,
//!    `[840]`). → 28.
//! 8. A numeric `bakongAccountID` (the SDK returns a `TypeError` as its QR) and a boolean,
//!    object or array where text belongs (written `true`, `[object Object]`). → 109
//!    `InvalidFieldType`. An object as a constructor argument makes the SDK's constructor
//!    throw a bare string without code (`thrown_by_constructor` vectors): also 109.
//! 9. A clock that is not 13 digits as the creation timestamp. → 110.
//!
//! Typed API: the currency is an enum, so the SDK's code 9 (currency emptied after
//! construction, a `post_construction_mutation` vector) cannot arise; an empty
//! [`KhqrRequest::mcc`] gives 25 as the SDK does after such a mutation.
//!
//! Decoding and verifying (the SDK's `verify()` returns true, or `decode()` hangs; we refuse):
//!
//! 1. The SDK hangs on a template whose value is not a TLV list (`6204ABCD`) or holds a
//!    non-numeric length; we answer 101 `MalformedTlv` at once. Likewise a 3-digit length,
//!    a non-numeric tag (the SDK skips it), a value that runs past the end or splits a
//!    surrogate pair, a template value with bytes left over. → 101.
//! 2. The same tag twice (the SDK keeps the last one, or stops reading at a repeat), 29 and
//!    30 together, or a sub-tag twice in a template. → 102.
//! 3. Tag 00 not first or tag 63 not last (EMV requires both; the SDK does not check order).
//!    → 36.
//! 4. A CRC in lowercase hex (the SDK compares case-insensitively; BANKS.md and our encoder
//!    write uppercase, and only then does every single-character change fail verification).
//!    → 106 `CrcFormat`.
//! 5. An empty value where the SDK accepts one: tag 15, templates 62/64/99, tags and sub-tags
//!    it ignores. → 104. An empty account information (29/30 sub-tag 01) → 35.
//! 6. Account ID, MCC and language template as in encoding points 2, 3 and 5 (37; a language
//!    preference of 1–2 characters is accepted, as the SDK does).
//! 7. An amount (tag 54) that is not a plain decimal number (`1e3`, `1,000`, `abc`): the SDK
//!    only refuses empty, `-` and more than 13 characters. → 4.
//! 8. A timestamp in tag 99 not written as 13 digits: the SDK reads them with `Number()` and
//!    checks only a dynamic QR's expiration length after that (so `" 1767..."` or a
//!    14-digit static one passes). → 49 (expiration), 111 (creation).
//! 9. A dynamic QR whose tag 01 comes after tag 99: the SDK skips its timestamp rules
//!    (45, 49, 50, 46); we apply them.
//!
//! Kept as the SDK has them, because the vectors record them as valid: a payload format
//! indicator other than `01` (`02`), a country code of up to 3 characters (`KHM`), a static
//! QR with an amount and a tag 99 without expiration, a merchant template (30) without
//! sub-tags 01/02 (which the SDK's verifier checks with the individual rule, code 35), tags
//! the SDK has no field for (61, 55, ...; listed in [`DecodedKhqr::unmapped`]), and a
//! UnionPay tag 15 beside USD (our encoder refuses that, code 44, as the SDK's does).
//!
//! Codes that only we use are listed on [`KhqrError`]; [`Verification::reason`] classes
//! failures as the SDK's verifier would: `crc_tag_format`, `crc_mismatch`, `too_short`,
//! `validation_error`, and ours, `malformed_tlv`.
#![warn(missing_docs, clippy::indexing_slicing, clippy::as_conversions)]

pub mod cli;
mod crc;
mod decode;
mod encode;
mod encode_fields;
mod error;
mod js;
mod request;
mod rules;
mod sdk_json;
mod tlv;
mod validate;

pub use crc::{crc16_ccitt_false, crc_hex, md5_hex};
pub use decode::{decode, inspect, verify, DecodedKhqr, Verification};
pub use encode::encode;
pub use error::KhqrError;
pub use request::{AccountKind, Currency, Khqr, KhqrRequest};
pub use sdk_json::{SdkInputError, SdkRequest};
