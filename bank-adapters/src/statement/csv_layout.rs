//! The CSV statement layout of API.md: UTF-8, comma, RFC 4180 quoting, header
//! `booking_date,transaction_id,reference,amount,currency,direction,description`.

use chrono::NaiveDate;

use super::{
    check_currency, optional_text, parse_amount, Direction, Problem, Statement, StatementFormat,
    StatementLine, MAX_DESCRIPTION_CHARS, MAX_STATEMENT_BYTES, MAX_STATEMENT_LINES, MAX_TEXT_CHARS,
};

/// The header row, exactly.
pub const CSV_HEADER: [&str; 7] = [
    "booking_date",
    "transaction_id",
    "reference",
    "amount",
    "currency",
    "direction",
    "description",
];

/// Parses a CSV statement. Every problem of every row is listed; a statement with none is
/// returned with its period from the earliest to the latest booking date.
///
/// # Errors
///
/// The problems, each naming its line (the header is line 1).
pub fn parse_csv(bytes: &[u8]) -> Result<Statement, Vec<Problem>> {
    if bytes.len() > MAX_STATEMENT_BYTES {
        return Err(vec![Problem::new(
            "file",
            format!("the file is larger than {MAX_STATEMENT_BYTES} bytes"),
        )]);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut records = reader.records();
    match records.next() {
        Some(Ok(header)) => {
            let names: Vec<&str> = header.iter().map(str::trim).collect();
            if names != CSV_HEADER {
                return Err(vec![Problem::new(
                    "line 1",
                    format!("the header must be {}", CSV_HEADER.join(",")),
                )]);
            }
        }
        Some(Err(error)) => return Err(vec![Problem::new("line 1", csv_message(&error))]),
        None => return Err(vec![Problem::new("file", "the file is empty")]),
    }
    for (index, record) in records.enumerate() {
        let location = format!("line {}", index + 2);
        if lines.len() + problems.len() >= MAX_STATEMENT_LINES {
            problems.push(Problem::new(
                location,
                format!("a statement holds at most {MAX_STATEMENT_LINES} lines"),
            ));
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(Problem::new(location, csv_message(&error)));
                continue;
            }
        };
        if record.len() != CSV_HEADER.len() {
            problems.push(Problem::new(
                location,
                format!(
                    "{} fields where the header has {}",
                    record.len(),
                    CSV_HEADER.len()
                ),
            ));
            continue;
        }
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let line_no = u32::try_from(lines.len() + 1).unwrap_or(u32::MAX);
        match parse_row(line_no, [0, 1, 2, 3, 4, 5, 6].map(field)) {
            Ok(line) => lines.push(line),
            Err(messages) => problems.extend(
                messages
                    .into_iter()
                    .map(|message| Problem::new(location.clone(), message)),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(from), Some(to)) = (
        lines.iter().map(|line| line.booking_date).min(),
        lines.iter().map(|line| line.booking_date).max(),
    ) else {
        return Err(vec![Problem::new("file", "the statement has no lines")]);
    };
    Ok(Statement {
        format: StatementFormat::Csv,
        account_id: None,
        currency: None,
        bank_statement_id: None,
        from,
        to,
        lines,
    })
}

fn parse_row(line_no: u32, fields: [&str; 7]) -> Result<StatementLine, Vec<String>> {
    let [date, transaction_id, reference, amount, currency, direction, description] = fields;
    let mut messages = Vec::new();
    let booking_date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| messages.push(format!("booking_date {date:?} is not a date YYYY-MM-DD")))
        .ok();
    let currency = check_currency(currency)
        .map_err(|message| messages.push(message))
        .ok();
    let amount = currency.as_deref().and_then(|currency| {
        parse_amount(amount, currency)
            .map_err(|message| messages.push(message))
            .ok()
    });
    let direction_text = direction;
    let direction = Direction::parse(direction_text);
    if direction.is_none() {
        messages.push(format!("direction {direction_text:?} is not CRDT or DBIT"));
    }
    let transaction_id = optional_text("transaction_id", transaction_id, MAX_TEXT_CHARS)
        .map_err(|message| messages.push(message))
        .ok()
        .flatten();
    let reference = optional_text("reference", reference, MAX_TEXT_CHARS)
        .map_err(|message| messages.push(message))
        .ok()
        .flatten();
    let description = optional_text("description", description, MAX_DESCRIPTION_CHARS)
        .map_err(|message| messages.push(message))
        .ok()
        .flatten();
    if transaction_id.is_none() && reference.is_none() && messages.is_empty() {
        messages.push("a line needs a transaction_id or a reference".to_owned());
    }
    match (booking_date, amount, currency, direction) {
        (Some(booking_date), Some(amount), Some(currency), Some(direction))
            if messages.is_empty() =>
        {
            Ok(StatementLine {
                line_no,
                booking_date,
                transaction_id,
                reference,
                amount,
                currency,
                direction,
                description,
                parts: Vec::new(),
            })
        }
        _ => Err(messages),
    }
}

/// Writes a statement in the CSV layout: the header, then one row per line. A batch line is
/// one row with its own amount and id; its parts have no place in the layout and are left out.
pub fn write_csv(statement: &Statement) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut rows = vec![CSV_HEADER.map(str::to_owned)];
    for line in &statement.lines {
        rows.push([
            line.booking_date.to_string(),
            line.transaction_id.clone().unwrap_or_default(),
            line.reference.clone().unwrap_or_default(),
            line.amount.to_string(),
            line.currency.clone(),
            line.direction.as_str().to_owned(),
            line.description.clone().unwrap_or_default(),
        ]);
    }
    for row in rows {
        // Writing to a Vec fails only on a full memory, which aborts anyway.
        let _ = writer.write_record(&row);
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn csv_message(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "the line is not UTF-8".to_owned(),
        _ => format!("the line is not valid CSV ({error})"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const HEADER: &str =
        "booking_date,transaction_id,reference,amount,currency,direction,description\n";

    #[test]
    fn a_good_statement_parses_with_its_period() {
        let text = format!(
            "{HEADER}2026-12-05,TX1,0320018100,600000,KHR,CRDT,\"Fee, case 0320018100\"\n\
             2026-12-06,FEE-1,,1.50,USD,DBIT,monthly fee\n"
        );
        let statement = parse_csv(text.as_bytes()).unwrap();
        assert_eq!(statement.lines.len(), 2);
        assert_eq!(statement.from.to_string(), "2026-12-05");
        assert_eq!(statement.to.to_string(), "2026-12-06");
        let first = &statement.lines[0];
        assert_eq!(first.transaction_id.as_deref(), Some("TX1"));
        assert_eq!(first.description.as_deref(), Some("Fee, case 0320018100"));
        assert_eq!(first.direction, Direction::Credit);
        assert_eq!(statement.lines[1].reference, None);
        assert_eq!(statement.lines[1].direction, Direction::Debit);
    }

    #[test]
    fn every_bad_line_is_listed_with_its_number() {
        let text = format!(
            "{HEADER}2026-13-05,TX1,R,600000,KHR,CRDT,\n\
             2026-12-05,TX2,R,-5,KHR,CRDT,\n\
             2026-12-05,TX3,R,5,EUR,CRDT,\n\
             2026-12-05,TX4,R,5,KHR,IN,\n\
             2026-12-05,TX5,R\n"
        );
        let problems = parse_csv(text.as_bytes()).unwrap_err();
        let locations: Vec<&str> = problems.iter().map(|p| p.location.as_str()).collect();
        assert_eq!(
            locations,
            ["line 2", "line 3", "line 4", "line 5", "line 6"]
        );
    }

    #[test]
    fn a_wrong_header_or_an_empty_file_is_refused() {
        assert!(parse_csv(b"").is_err());
        assert!(parse_csv(b"date,amount\n2026-12-05,1\n").is_err());
        assert!(parse_csv(HEADER.as_bytes()).is_err());
        assert!(parse_csv(b"\xff\xfe").is_err());
    }
}
