//! KHQR (Bakong QR) encoder and strict decoder.
//!
//! TODO docs
#![warn(missing_docs, clippy::indexing_slicing, clippy::as_conversions)]

pub mod cli;
mod crc;
mod decode;
mod encode;
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
