//! Money as it crosses the API: `{"amount": "600000", "currency": "KHR"}`. The shape is defined
//! in app::money because stored quote lines and event payloads carry it too.

pub use crate::app::money::MoneyView;
