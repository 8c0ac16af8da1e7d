//! Money and times as people read them on the pages (the API keeps plain numbers).

use ledger::{Currency, Money};

/// `5,000 ៛` for riel (whole riel, thousands separated), `$12.00` for dollars.
pub fn money(amount: &Money) -> String {
    let plain = amount.format_amount();
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let grouped = group_thousands(whole);
    match (amount.currency(), fraction) {
        (Currency::Usd, Some(cents)) => format!("{sign}${grouped}.{cents}"),
        (Currency::Usd, None) => format!("{sign}${grouped}"),
        (Currency::Khr, _) => format!("{sign}{grouped} ៛"),
    }
}

/// A time in Phnom Penh (UTC+7), as `2026-03-02 14:35`.
pub fn local_time(at: chrono::DateTime<chrono::Utc>) -> String {
    chrono::FixedOffset::east_opt(7 * 3600)
        .map(|zone| at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| at.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn riel_and_dollars_read_as_people_write_them() {
        assert_eq!(money(&Money::from_minor(5_000, Currency::Khr)), "5,000 ៛");
        assert_eq!(
            money(&Money::from_minor(600_000, Currency::Khr)),
            "600,000 ៛"
        );
        assert_eq!(money(&Money::from_minor(999, Currency::Khr)), "999 ៛");
        assert_eq!(money(&Money::from_minor(1_200, Currency::Usd)), "$12.00");
        assert_eq!(
            money(&Money::from_minor(123_456_705, Currency::Usd)),
            "$1,234,567.05"
        );
        assert_eq!(money(&Money::from_minor(-4_000, Currency::Khr)), "-4,000 ៛");
    }
}
