//! Properties of the statement formats: what a writer writes, its parser reads back equal; and
//! no input, however broken, makes a parser panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bank_adapters::statement::{
    parse_camt053, parse_csv, write_camt053, write_csv, Direction, LinePart, Statement,
    StatementFormat, StatementLine,
};
use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Text a bank might send: letters, Khmer, punctuation, and every character XML and CSV must
/// escape or quote. Trimmed and never empty (the parsers trim, and empty is "none").
fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[A-Za-z0-9ក-៩ ,;\"'<>&/#@.=+-]{1,30}").prop_map(|text| {
        text.map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    })
}

fn currency() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["KHR", "USD"])
}

/// A positive amount within the currency's scale and the line limit.
fn amount(currency: &'static str) -> impl Strategy<Value = Decimal> {
    let (scale, most) = if currency == "USD" {
        (2, 100_000_000_000)
    } else {
        (0, 1_000_000_000)
    };
    (1_i64..=most).prop_map(move |minor| Decimal::new(minor, scale))
}

fn part(currency: &'static str) -> impl Strategy<Value = LinePart> {
    (text(), text(), prop::option::of(amount(currency))).prop_map(
        |(transaction_id, reference, amount)| LinePart {
            transaction_id,
            reference,
            amount,
        },
    )
}

fn line(currency: &'static str) -> impl Strategy<Value = StatementLine> {
    (
        0_u64..60,
        text(),
        text(),
        amount(currency),
        any::<bool>(),
        text(),
        // No parts, or a batch of at least two: one TxDtls is a single payment.
        prop_oneof![
            Just(Vec::new()),
            prop::collection::vec(part(currency), 2..4)
        ],
    )
        .prop_map(
            move |(day, transaction_id, reference, amount, credit, description, parts)| {
                let base = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
                let batch = !parts.is_empty();
                StatementLine {
                    line_no: 0,
                    booking_date: base.checked_add_days(Days::new(day)).unwrap(),
                    // An entry needs an id or a reference; a batch is named by its id alone.
                    transaction_id: transaction_id.or_else(|| Some("TX".to_owned())),
                    reference: if batch { None } else { reference },
                    amount,
                    currency: currency.to_owned(),
                    direction: if credit {
                        Direction::Credit
                    } else {
                        Direction::Debit
                    },
                    description,
                    parts,
                }
            },
        )
}

/// A statement of one currency (then the account's) or of both.
fn statement() -> impl Strategy<Value = Statement> {
    (currency(), any::<bool>(), text(), text(), 0_u64..5).prop_flat_map(
        |(currency, mixed, account_id, id, margin)| {
            let lines = if mixed {
                prop::collection::vec(prop_oneof![line("KHR"), line("USD")], 1..8).boxed()
            } else {
                prop::collection::vec(line(currency), 1..8).boxed()
            };
            lines.prop_map(move |mut lines| {
                for (index, line) in lines.iter_mut().enumerate() {
                    line.line_no = u32::try_from(index + 1).unwrap();
                }
                let from = lines.iter().map(|l| l.booking_date).min().unwrap();
                let to = lines.iter().map(|l| l.booking_date).max().unwrap();
                let shared = lines.iter().all(|l| l.currency == lines[0].currency);
                Statement {
                    format: StatementFormat::Camt053,
                    account_id: account_id.clone(),
                    // Acct/Ccy is written whenever all lines share one currency.
                    currency: shared.then(|| lines[0].currency.clone()),
                    bank_statement_id: id.clone(),
                    from: from.checked_sub_days(Days::new(margin)).unwrap(),
                    to: to.checked_add_days(Days::new(margin)).unwrap(),
                    lines,
                }
            })
        },
    )
}

/// What the CSV layout keeps of a statement: lines without parts, the period of its lines.
fn as_csv(statement: &Statement) -> Statement {
    let lines: Vec<StatementLine> = statement
        .lines
        .iter()
        .cloned()
        .map(|line| StatementLine {
            parts: Vec::new(),
            ..line
        })
        .collect();
    Statement {
        format: StatementFormat::Csv,
        account_id: None,
        currency: None,
        bank_statement_id: None,
        from: lines.iter().map(|l| l.booking_date).min().unwrap(),
        to: lines.iter().map(|l| l.booking_date).max().unwrap(),
        lines,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn camt053_reads_back_what_it_wrote(statement in statement()) {
        let xml = write_camt053(&statement);
        let parsed = parse_camt053(xml.as_bytes());
        prop_assert_eq!(parsed, Ok(statement), "{}", xml);
    }

    #[test]
    fn csv_reads_back_what_it_wrote(statement in statement()) {
        let text = write_csv(&statement);
        let parsed = parse_csv(text.as_bytes());
        prop_assert_eq!(parsed, Ok(as_csv(&statement)), "{}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_camt053(&bytes);
        let _ = parse_csv(&bytes);
    }

    #[test]
    fn a_written_statement_with_one_byte_changed_never_panics(
        statement in statement(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        for mut bytes in [write_camt053(&statement).into_bytes(), write_csv(&statement).into_bytes()] {
            let index = at.index(bytes.len());
            bytes[index] = byte;
            let _ = parse_camt053(&bytes);
            let _ = parse_csv(&bytes);
        }
    }
}
