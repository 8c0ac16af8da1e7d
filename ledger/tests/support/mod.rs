//! Helpers shared by the ledger's database tests.

#![allow(clippy::unwrap_used)]

use ledger::{AccountCode, AccountKind, Currency};

/// The office's KHQR clearing account in riel.
pub fn clearing(office: &str) -> AccountCode {
    AccountCode::new(
        office,
        AccountKind::Clearing {
            channel: "khqr".into(),
        },
        Currency::Khr,
    )
    .unwrap()
}

/// The office's revenue account of `sector` in riel.
pub fn revenue(office: &str, sector: &str) -> AccountCode {
    AccountCode::new(
        office,
        AccountKind::Revenue {
            sector: sector.into(),
        },
        Currency::Khr,
    )
    .unwrap()
}
