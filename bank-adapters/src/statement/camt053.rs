//! ISO 20022 camt.053 (bank-to-customer statement), read as a stream of XML events and written
//! as `camt.053.001.08`.
//!
//! The reader keeps only the elements API.md names ("Bank statements") and ignores the rest,
//! so any version from `001.02` on reads the same. It never builds a tree: a 16 MB file costs
//! its lines, not a DOM. A DTD is refused outright (quick-xml would not expand its entities
//! anyway, but a file that declares any is not a bank's statement).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use rust_decimal::Decimal;

use super::{
    cambodian_date, check_currency, optional_text, parse_amount, Direction, LinePart, Problem,
    Statement, StatementFormat, StatementLine, MAX_DESCRIPTION_CHARS, MAX_STATEMENT_BYTES,
    MAX_STATEMENT_LINES, MAX_TEXT_CHARS,
};

/// The namespace every camt.053 version shares, up to its two-digit version number.
pub const CAMT053_NAMESPACE_PREFIX: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.";

/// The version [`write_camt053`] writes.
pub const CAMT053_WRITTEN_NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";

/// Deepest element nesting the reader follows; camt.053's deepest element we read is 9 levels
/// down, so anything past this is an attack on the stack, not a statement.
pub const MAX_XML_DEPTH: usize = 32;

/// The oldest version read: `001.02`, the first with the elements we need.
const MIN_VERSION: u32 = 2;

/// An amount as the file wrote it: its text and its `Ccy` attribute.
#[derive(Debug, Default, Clone)]
struct RawAmount {
    text: String,
    currency: Option<String>,
}

/// One `TxDtls` as read, unchecked.
#[derive(Debug, Default)]
struct RawTx {
    transaction_id: Option<String>,
    reference: Option<String>,
    amount: Option<RawAmount>,
}

/// One `Ntry` as read, unchecked.
#[derive(Debug, Default)]
struct RawEntry {
    amount: Option<RawAmount>,
    direction: Option<String>,
    booking_date: Option<String>,
    booking_date_time: Option<String>,
    transaction_id: Option<String>,
    description: Option<String>,
    txs: Vec<RawTx>,
}

/// The statement-level elements as read, unchecked.
#[derive(Debug, Default)]
struct RawStatement {
    id: Option<String>,
    account_other: Option<String>,
    account_iban: Option<String>,
    currency: Option<String>,
    from: Option<String>,
    to: Option<String>,
    entries: Vec<RawEntry>,
}

/// Where the reader is, to name an element and to know which entry a text belongs to.
struct Cursor {
    /// Local names from the root down, the current element last.
    stack: Vec<String>,
    /// The `Ccy` attribute of the innermost open element that has one.
    currency_attr: Option<String>,
    /// Text of the current element so far.
    text: String,
    statements: usize,
    /// Entries (`Ntry`) seen so far, and `TxDtls` seen in the current entry.
    entries: usize,
    txs: usize,
}

impl Cursor {
    /// The path below `BkToCstmrStmt`, as `Stmt/Ntry/Amt`, when inside the one `Stmt`.
    fn relative(&self) -> Option<Vec<&str>> {
        let mut names = self.stack.iter().map(String::as_str);
        let (Some("Document"), Some("BkToCstmrStmt"), Some("Stmt")) =
            (names.next(), names.next(), names.next())
        else {
            return None;
        };
        let mut path = vec!["Stmt"];
        path.extend(names);
        Some(path)
    }
}

/// Parses a camt.053 statement (`camt.053.001.02` or later). Every problem is listed, each
/// with its element path such as `Stmt/Ntry[3]/Amt`.
///
/// A file that cannot be read on (not XML, a DTD, nesting past [`MAX_XML_DEPTH`], more than
/// [`MAX_STATEMENT_LINES`] entries, the wrong namespace) ends with that problem after the ones
/// found before it.
///
/// # Errors
///
/// The problems.
pub fn parse_camt053(bytes: &[u8]) -> Result<Statement, Vec<Problem>> {
    if bytes.len() > MAX_STATEMENT_BYTES {
        return Err(vec![Problem::new(
            "file",
            format!("the file is larger than {MAX_STATEMENT_BYTES} bytes"),
        )]);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut problems = Vec::new();
    let raw = match read_events(bytes, &mut problems) {
        Ok(raw) => raw,
        Err(fatal) => {
            problems.push(fatal);
            return Err(problems);
        }
    };
    let statement = check_statement(raw, &mut problems);
    match statement {
        Some(statement) if problems.is_empty() => Ok(statement),
        _ => Err(problems),
    }
}

/// Reads the events into a [`RawStatement`]; `Err` is the problem that stopped the reading.
fn read_events(bytes: &[u8], problems: &mut Vec<Problem>) -> Result<RawStatement, Problem> {
    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    let mut raw = RawStatement::default();
    let mut cursor = Cursor {
        stack: Vec::new(),
        currency_attr: None,
        text: String::new(),
        statements: 0,
        entries: 0,
        txs: 0,
    };
    let mut saw_root = false;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|error| {
            Problem::new(
                location_of(&cursor),
                format!("the file is not well-formed XML near byte {position} ({error})"),
            )
        })?;
        match event {
            Event::DocType(_) => {
                return Err(Problem::new(
                    "file",
                    "a DOCTYPE (DTD or entity declaration) is refused; a statement needs none",
                ));
            }
            Event::Start(start) => {
                let name = local_name(&start)?;
                if cursor.stack.is_empty() {
                    if saw_root {
                        return Err(Problem::new(
                            "file",
                            "the file has more than one root element",
                        ));
                    }
                    saw_root = true;
                    check_root(&start, &name)?;
                }
                cursor.stack.push(name);
                if cursor.stack.len() > MAX_XML_DEPTH {
                    return Err(Problem::new(
                        location_of(&cursor),
                        format!("elements are nested deeper than {MAX_XML_DEPTH} levels"),
                    ));
                }
                cursor.text.clear();
                cursor.currency_attr = attribute(&start, b"Ccy", &cursor)?;
                on_start(&mut cursor, &mut raw)?;
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|error| {
                    Problem::new(
                        location_of(&cursor),
                        format!("the text is not UTF-8 or uses an unknown entity ({error})"),
                    )
                })?;
                if cursor.stack.is_empty() && !text.trim().is_empty() {
                    return Err(Problem::new("file", "text outside the root element"));
                }
                cursor.text.push_str(&text);
            }
            Event::CData(data) => {
                let data = std::str::from_utf8(&data)
                    .map_err(|_| Problem::new(location_of(&cursor), "the text is not UTF-8"))?;
                cursor.text.push_str(data);
            }
            Event::End(_) => {
                on_end(&mut cursor, &mut raw, problems);
                cursor.stack.pop();
                cursor.text.clear();
            }
            // `expand_empty_elements` turns every `<a/>` into Start and End.
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !saw_root {
        return Err(Problem::new("file", "the file has no XML element"));
    }
    if cursor.statements == 0 {
        return Err(Problem::new(
            "BkToCstmrStmt",
            "the file holds no statement (BkToCstmrStmt/Stmt)",
        ));
    }
    Ok(raw)
}

/// The local name of an element, without its namespace prefix.
fn local_name(start: &BytesStart<'_>) -> Result<String, Problem> {
    std::str::from_utf8(start.local_name().as_ref())
        .map(str::to_owned)
        .map_err(|_| Problem::new("file", "an element name is not UTF-8"))
}

/// The root must be a camt.053 `Document` of version 02 or later, in its namespace.
fn check_root(start: &BytesStart<'_>, name: &str) -> Result<(), Problem> {
    if name != "Document" {
        return Err(Problem::new(
            name,
            "the root element must be a camt.053 Document",
        ));
    }
    let namespace_attr: Vec<u8> = match start.name().prefix() {
        Some(prefix) => [b"xmlns:".as_slice(), prefix.as_ref()].concat(),
        None => b"xmlns".to_vec(),
    };
    let namespace = start
        .attributes()
        .flatten()
        .find(|attr| attr.key.as_ref() == namespace_attr.as_slice())
        .and_then(|attr| attr.unescape_value().ok().map(|value| value.into_owned()));
    let version = namespace
        .as_deref()
        .and_then(|namespace| namespace.strip_prefix(CAMT053_NAMESPACE_PREFIX))
        .filter(|version| version.len() == 2 && version.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|version| version.parse::<u32>().ok());
    match version {
        Some(version) if version >= MIN_VERSION => Ok(()),
        _ => Err(Problem::new(
            "Document",
            format!(
                "the namespace {:?} is not camt.053.001.02 or later ({CAMT053_NAMESPACE_PREFIX}NN)",
                namespace.unwrap_or_default()
            ),
        )),
    }
}

/// The value of attribute `key` (exact name, no prefix), unescaped.
fn attribute(
    start: &BytesStart<'_>,
    key: &[u8],
    cursor: &Cursor,
) -> Result<Option<String>, Problem> {
    for attr in start.attributes() {
        let attr = attr.map_err(|error| {
            Problem::new(
                location_of(cursor),
                format!("a malformed attribute ({error})"),
            )
        })?;
        if attr.key.as_ref() == key {
            let value = attr.unescape_value().map_err(|error| {
                Problem::new(
                    location_of(cursor),
                    format!("an attribute is not UTF-8 or uses an unknown entity ({error})"),
                )
            })?;
            return Ok(Some(value.trim().to_owned()));
        }
    }
    Ok(None)
}

fn on_start(cursor: &mut Cursor, raw: &mut RawStatement) -> Result<(), Problem> {
    let names: Vec<&str> = cursor.stack.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["Document", "BkToCstmrStmt", "Stmt"] => {
            cursor.statements += 1;
            if cursor.statements > 1 {
                return Err(Problem::new(
                    "Stmt[2]",
                    "a file may hold one statement; upload each account's statement on its own",
                ));
            }
        }
        ["Document", "BkToCstmrStmt", "Stmt", "Ntry"] => {
            if raw.entries.len() >= MAX_STATEMENT_LINES {
                return Err(Problem::new(
                    format!("Stmt/Ntry[{}]", raw.entries.len() + 1),
                    format!("a statement holds at most {MAX_STATEMENT_LINES} entries"),
                ));
            }
            raw.entries.push(RawEntry::default());
            cursor.entries += 1;
            cursor.txs = 0;
        }
        ["Document", "BkToCstmrStmt", "Stmt", "Ntry", "NtryDtls", "TxDtls"] => {
            if let Some(entry) = raw.entries.last_mut() {
                entry.txs.push(RawTx::default());
            }
            cursor.txs += 1;
        }
        _ => {}
    }
    Ok(())
}

/// Keeps the text of an element we read; a second copy of a one-only element is a problem.
fn on_end(cursor: &mut Cursor, raw: &mut RawStatement, problems: &mut Vec<Problem>) {
    let location = location_of(cursor);
    let text = cursor.text.trim().to_owned();
    let currency = cursor.currency_attr.take();
    let Some(path) = cursor.relative() else {
        return;
    };
    let entry = raw.entries.last_mut();
    let mut keep = |slot: &mut Option<String>| {
        if slot.is_some() {
            problems.push(Problem::new(
                location.clone(),
                "this element appears more than once",
            ));
        } else {
            *slot = Some(text.clone());
        }
    };
    match (path.as_slice(), entry) {
        (["Stmt", "Id"], _) => keep(&mut raw.id),
        (["Stmt", "Acct", "Id", "Othr", "Id"], _) => keep(&mut raw.account_other),
        (["Stmt", "Acct", "Id", "IBAN"], _) => keep(&mut raw.account_iban),
        (["Stmt", "Acct", "Ccy"], _) => keep(&mut raw.currency),
        (["Stmt", "FrToDt", "FrDtTm"], _) => keep(&mut raw.from),
        (["Stmt", "FrToDt", "ToDtTm"], _) => keep(&mut raw.to),
        (["Stmt", "Ntry", "Amt"], Some(entry)) => {
            if entry.amount.is_some() {
                problems.push(Problem::new(
                    location,
                    "this element appears more than once",
                ));
            } else {
                entry.amount = Some(RawAmount { text, currency });
            }
        }
        (["Stmt", "Ntry", "CdtDbtInd"], Some(entry)) => keep(&mut entry.direction),
        (["Stmt", "Ntry", "BookgDt", "Dt"], Some(entry)) => keep(&mut entry.booking_date),
        (["Stmt", "Ntry", "BookgDt", "DtTm"], Some(entry)) => keep(&mut entry.booking_date_time),
        (["Stmt", "Ntry", "AcctSvcrRef"], Some(entry)) => keep(&mut entry.transaction_id),
        (["Stmt", "Ntry", "AddtlNtryInf"], Some(entry)) => keep(&mut entry.description),
        (["Stmt", "Ntry", "NtryDtls", "TxDtls", "Refs", "AcctSvcrRef"], Some(entry)) => {
            if let Some(tx) = entry.txs.last_mut() {
                keep(&mut tx.transaction_id);
            }
        }
        // Several `Ustrd` are one remittance text cut in pieces; the reference is the first.
        (["Stmt", "Ntry", "NtryDtls", "TxDtls", "RmtInf", "Ustrd"], Some(entry)) => {
            if let Some(tx) = entry.txs.last_mut() {
                if tx.reference.is_none() {
                    tx.reference = Some(text);
                }
            }
        }
        (["Stmt", "Ntry", "NtryDtls", "TxDtls", "AmtDtls", "TxAmt", "Amt"], Some(entry)) => {
            if let Some(tx) = entry.txs.last_mut() {
                if tx.amount.is_some() {
                    problems.push(Problem::new(
                        location,
                        "this element appears more than once",
                    ));
                } else {
                    tx.amount = Some(RawAmount { text, currency });
                }
            }
        }
        _ => {}
    }
}

/// The element path of the current element: `Stmt/Ntry[3]/Amt`, counting entries and
/// transaction details so a person can find them; outside `Stmt` the plain path.
fn location_of(cursor: &Cursor) -> String {
    let Some(path) = cursor.relative() else {
        return if cursor.stack.is_empty() {
            "file".to_owned()
        } else {
            cursor.stack.join("/")
        };
    };
    let mut location = String::new();
    for (depth, name) in path.iter().enumerate() {
        if depth > 0 {
            location.push('/');
        }
        location.push_str(name);
        match (depth, *name) {
            (1, "Ntry") => location.push_str(&format!("[{}]", cursor.entries)),
            (3, "TxDtls") => location.push_str(&format!("[{}]", cursor.txs)),
            _ => {}
        }
    }
    location
}

/// Checks every entry and the statement's own elements; adds a problem for each fault.
fn check_statement(raw: RawStatement, problems: &mut Vec<Problem>) -> Option<Statement> {
    let account_currency = raw.currency.as_deref().and_then(|currency| {
        check_currency(currency)
            .map_err(|message| problems.push(Problem::new("Stmt/Acct/Ccy", message)))
            .ok()
    });
    let account_id = match (raw.account_other, raw.account_iban) {
        (Some(other), _) => text_at("Stmt/Acct/Id/Othr/Id", &other, MAX_TEXT_CHARS, problems),
        (None, Some(iban)) => text_at("Stmt/Acct/Id/IBAN", &iban, MAX_TEXT_CHARS, problems),
        (None, None) => None,
    };
    let bank_statement_id = raw
        .id
        .as_deref()
        .and_then(|id| text_at("Stmt/Id", id, MAX_TEXT_CHARS, problems));
    let from = raw
        .from
        .as_deref()
        .and_then(|text| date_at("Stmt/FrToDt/FrDtTm", text, problems));
    let to = raw
        .to
        .as_deref()
        .and_then(|text| date_at("Stmt/FrToDt/ToDtTm", text, problems));
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            problems.push(Problem::new(
                "Stmt/FrToDt",
                format!("the period starts ({from}) after it ends ({to})"),
            ));
        }
    }
    let mut lines = Vec::with_capacity(raw.entries.len());
    for (index, entry) in raw.entries.into_iter().enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let location = format!("Stmt/Ntry[{line_no}]");
        if let Some(line) = check_entry(
            line_no,
            &location,
            entry,
            account_currency.as_deref(),
            problems,
        ) {
            lines.push(line);
        }
    }
    let from = match raw.from {
        Some(_) => from,
        None => lines.iter().map(|line| line.booking_date).min(),
    };
    let to = match raw.to {
        Some(_) => to,
        None => lines.iter().map(|line| line.booking_date).max(),
    };
    let (Some(from), Some(to)) = (from, to) else {
        if problems.is_empty() {
            problems.push(Problem::new(
                "Stmt",
                "the statement has no entries and no period (FrToDt)",
            ));
        }
        return None;
    };
    Some(Statement {
        format: StatementFormat::Camt053,
        account_id,
        currency: raw.currency.and(account_currency),
        bank_statement_id,
        from,
        to,
        lines,
    })
}

fn check_entry(
    line_no: u32,
    location: &str,
    entry: RawEntry,
    account_currency: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<StatementLine> {
    let before = problems.len();
    let amount_at = format!("{location}/Amt");
    let (amount, currency) = match &entry.amount {
        None => {
            problems.push(Problem::new(&amount_at, "the entry has no amount"));
            (None, None)
        }
        Some(raw) => checked_amount(&amount_at, raw, account_currency, problems),
    };
    let direction = match entry.direction.as_deref() {
        None => {
            problems.push(Problem::new(
                format!("{location}/CdtDbtInd"),
                "the entry has no CdtDbtInd",
            ));
            None
        }
        Some(text) => {
            let direction = Direction::parse(text);
            if direction.is_none() {
                problems.push(Problem::new(
                    format!("{location}/CdtDbtInd"),
                    format!("CdtDbtInd {text:?} is not CRDT or DBIT"),
                ));
            }
            direction
        }
    };
    let booking_date = match (&entry.booking_date, &entry.booking_date_time) {
        (Some(text), _) => {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            if date.is_none() {
                problems.push(Problem::new(
                    format!("{location}/BookgDt/Dt"),
                    format!("{text:?} is not a date YYYY-MM-DD"),
                ));
            }
            date
        }
        (None, Some(text)) => date_at(&format!("{location}/BookgDt/DtTm"), text, problems),
        (None, None) => {
            problems.push(Problem::new(
                format!("{location}/BookgDt"),
                "the entry has no booking date (BookgDt/Dt or BookgDt/DtTm)",
            ));
            None
        }
    };
    let entry_transaction_id = entry.transaction_id.as_deref().and_then(|text| {
        text_at(
            &format!("{location}/AcctSvcrRef"),
            text,
            MAX_TEXT_CHARS,
            problems,
        )
    });
    let description = entry.description.as_deref().and_then(|text| {
        text_at(
            &format!("{location}/AddtlNtryInf"),
            text,
            MAX_DESCRIPTION_CHARS,
            problems,
        )
    });
    let batch = entry.txs.len() > 1;
    let mut parts = Vec::new();
    let mut single: (Option<String>, Option<String>) = (None, None);
    for (index, tx) in entry.txs.into_iter().enumerate() {
        let tx_at = format!("{location}/NtryDtls/TxDtls[{}]", index + 1);
        let transaction_id = tx.transaction_id.as_deref().and_then(|text| {
            text_at(
                &format!("{tx_at}/Refs/AcctSvcrRef"),
                text,
                MAX_TEXT_CHARS,
                problems,
            )
        });
        let reference = tx.reference.as_deref().and_then(|text| {
            text_at(
                &format!("{tx_at}/RmtInf/Ustrd"),
                text,
                MAX_TEXT_CHARS,
                problems,
            )
        });
        let amount = tx.amount.as_ref().and_then(|raw| {
            let amount_at = format!("{tx_at}/AmtDtls/TxAmt/Amt");
            let (amount, part_currency) =
                checked_amount(&amount_at, raw, account_currency, problems);
            if let (Some(part_currency), Some(currency)) = (&part_currency, &currency) {
                if part_currency != currency {
                    problems.push(Problem::new(
                        amount_at,
                        format!("currency {part_currency} differs from the entry's {currency}"),
                    ));
                }
            }
            amount
        });
        if batch {
            parts.push(LinePart {
                transaction_id,
                reference,
                amount,
            });
        } else {
            single = (transaction_id, reference);
        }
    }
    let (transaction_id, reference) = if batch {
        (entry_transaction_id, None)
    } else {
        (single.0.or(entry_transaction_id), single.1)
    };
    if transaction_id.is_none()
        && reference.is_none()
        && parts.is_empty()
        && problems.len() == before
    {
        problems.push(Problem::new(
            location,
            "an entry needs a transaction id (AcctSvcrRef) or a reference (RmtInf/Ustrd)",
        ));
    }
    if problems.len() != before {
        return None;
    }
    Some(StatementLine {
        line_no,
        booking_date: booking_date?,
        transaction_id,
        reference,
        amount: amount?,
        currency: currency?,
        direction: direction?,
        description,
        parts,
    })
}

/// Checks an `Amt` with its `Ccy`: the currency is KHR or USD and the account's when it names
/// one; the amount is positive, within the currency's scale and [`super::MAX_LINE_AMOUNT`].
fn checked_amount(
    location: &str,
    raw: &RawAmount,
    account_currency: Option<&str>,
    problems: &mut Vec<Problem>,
) -> (Option<Decimal>, Option<String>) {
    let Some(currency) = raw.currency.as_deref() else {
        problems.push(Problem::new(location, "the amount has no Ccy attribute"));
        return (None, None);
    };
    let currency = match check_currency(currency) {
        Ok(currency) => currency,
        Err(message) => {
            problems.push(Problem::new(location, message));
            return (None, None);
        }
    };
    if let Some(account_currency) = account_currency {
        if account_currency != currency {
            problems.push(Problem::new(
                location,
                format!(
                    "currency {currency} differs from the account's {account_currency} (Stmt/Acct/Ccy)"
                ),
            ));
        }
    }
    let amount = parse_amount(&raw.text, &currency)
        .map_err(|message| problems.push(Problem::new(location, message)))
        .ok();
    (amount, Some(currency))
}

fn text_at(
    location: &str,
    text: &str,
    max_chars: usize,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let name = location.rsplit('/').next().unwrap_or(location);
    optional_text(name, text, max_chars)
        .map_err(|message| problems.push(Problem::new(location, message)))
        .ok()
        .flatten()
}

/// An ISO date-time (with an offset, `Z`, or none: then Cambodian local time) or a plain date,
/// as the Cambodian calendar day it falls on.
fn date_at(location: &str, text: &str, problems: &mut Vec<Problem>) -> Option<NaiveDate> {
    let date = parse_date_time(text);
    if date.is_none() {
        problems.push(Problem::new(
            location,
            format!("{text:?} is not an ISO date-time such as 2026-12-05T10:00:00+07:00"),
        ));
    }
    date
}

fn parse_date_time(text: &str) -> Option<NaiveDate> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(cambodian_date(at.to_utc()));
    }
    if let Ok(local) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(local.date());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Writes a statement as a well-formed `camt.053.001.08` document: `GrpHdr`, `Stmt/Id` (when
/// the statement has one), `FrToDt` as Cambodian days, `Acct/Id/Othr/Id`, `Acct/Ccy` (the
/// statement's currency, or the one all lines share), and one `Ntry` per line with a `TxDtls`
/// per part for a batch. Balances (`Bal`) are left out: a statement built from payments alone
/// does not know them, and no reader of ours uses them.
pub fn write_camt053(statement: &Statement) -> String {
    let shared = statement
        .lines
        .first()
        .map(|line| line.currency.as_str())
        .filter(|first| statement.lines.iter().all(|line| line.currency == *first));
    let account_currency = match (&statement.currency, shared) {
        (Some(currency), Some(shared)) if currency != shared => None,
        (Some(currency), _) => Some(currency.as_str()),
        (None, shared) => shared,
    };
    let message_id = statement
        .bank_statement_id
        .clone()
        .unwrap_or_else(|| format!("STMT-{}-{}", statement.from, statement.to));
    let end_of_period = end_of_day(statement.to);
    let mut xml = String::with_capacity(1024 + statement.lines.len() * 600);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<Document xmlns=\"{CAMT053_WRITTEN_NAMESPACE}\">\n"
    ));
    xml.push_str("  <BkToCstmrStmt>\n");
    xml.push_str(&format!(
        "    <GrpHdr>\n      <MsgId>{}</MsgId>\n      <CreDtTm>{end_of_period}</CreDtTm>\n    </GrpHdr>\n",
        escape(message_id.as_str())
    ));
    xml.push_str("    <Stmt>\n");
    if let Some(id) = &statement.bank_statement_id {
        xml.push_str(&format!("      <Id>{}</Id>\n", escape(id.as_str())));
    }
    xml.push_str(&format!("      <CreDtTm>{end_of_period}</CreDtTm>\n"));
    xml.push_str(&format!(
        "      <FrToDt>\n        <FrDtTm>{}</FrDtTm>\n        <ToDtTm>{end_of_period}</ToDtTm>\n      </FrToDt>\n",
        start_of_day(statement.from)
    ));
    if statement.account_id.is_some() || account_currency.is_some() {
        xml.push_str("      <Acct>\n");
        if let Some(account_id) = &statement.account_id {
            xml.push_str(&format!(
                "        <Id>\n          <Othr>\n            <Id>{}</Id>\n          </Othr>\n        </Id>\n",
                escape(account_id.as_str())
            ));
        }
        if let Some(currency) = account_currency {
            xml.push_str(&format!("        <Ccy>{}</Ccy>\n", escape(currency)));
        }
        xml.push_str("      </Acct>\n");
    }
    for line in &statement.lines {
        write_entry(&mut xml, line);
    }
    xml.push_str("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n");
    xml
}

fn write_entry(xml: &mut String, line: &StatementLine) {
    let currency = escape(line.currency.as_str());
    let family = match line.direction {
        Direction::Credit => "RCDT",
        Direction::Debit => "ICDT",
    };
    xml.push_str("      <Ntry>\n");
    xml.push_str(&format!(
        "        <Amt Ccy=\"{currency}\">{}</Amt>\n        <CdtDbtInd>{}</CdtDbtInd>\n",
        line.amount,
        line.direction.as_str()
    ));
    xml.push_str("        <Sts>\n          <Cd>BOOK</Cd>\n        </Sts>\n");
    xml.push_str(&format!(
        "        <BookgDt>\n          <Dt>{date}</Dt>\n        </BookgDt>\n        <ValDt>\n          <Dt>{date}</Dt>\n        </ValDt>\n",
        date = line.booking_date
    ));
    let batch = !line.parts.is_empty();
    // A single payment's id goes in its TxDtls; a batch's own id can only go on the entry.
    if batch {
        if let Some(id) = &line.transaction_id {
            xml.push_str(&format!(
                "        <AcctSvcrRef>{}</AcctSvcrRef>\n",
                escape(id.as_str())
            ));
        }
    }
    xml.push_str(&format!(
        "        <BkTxCd>\n          <Domn>\n            <Cd>PMNT</Cd>\n            <Fmly>\n              <Cd>{family}</Cd>\n              <SubFmlyCd>OTHR</SubFmlyCd>\n            </Fmly>\n          </Domn>\n        </BkTxCd>\n"
    ));
    xml.push_str("        <NtryDtls>\n");
    if batch {
        for part in &line.parts {
            write_tx(
                xml,
                part.transaction_id.as_deref(),
                part.reference.as_deref(),
                part.amount.map(|amount| (amount, line.currency.as_str())),
            );
        }
    } else {
        write_tx(
            xml,
            line.transaction_id.as_deref(),
            line.reference.as_deref(),
            None,
        );
    }
    xml.push_str("        </NtryDtls>\n");
    if let Some(description) = &line.description {
        xml.push_str(&format!(
            "        <AddtlNtryInf>{}</AddtlNtryInf>\n",
            escape(description.as_str())
        ));
    }
    xml.push_str("      </Ntry>\n");
}

fn write_tx(
    xml: &mut String,
    transaction_id: Option<&str>,
    reference: Option<&str>,
    amount: Option<(Decimal, &str)>,
) {
    xml.push_str("          <TxDtls>\n");
    if let Some(id) = transaction_id {
        xml.push_str(&format!(
            "            <Refs>\n              <AcctSvcrRef>{}</AcctSvcrRef>\n            </Refs>\n",
            escape(id)
        ));
    }
    if let Some((amount, currency)) = amount {
        xml.push_str(&format!(
            "            <AmtDtls>\n              <TxAmt>\n                <Amt Ccy=\"{}\">{amount}</Amt>\n              </TxAmt>\n            </AmtDtls>\n",
            escape(currency)
        ));
    }
    if let Some(reference) = reference {
        xml.push_str(&format!(
            "            <RmtInf>\n              <Ustrd>{}</Ustrd>\n            </RmtInf>\n",
            escape(reference)
        ));
    }
    xml.push_str("          </TxDtls>\n");
}

fn start_of_day(date: NaiveDate) -> String {
    format!("{date}T00:00:00+07:00")
}

fn end_of_day(date: NaiveDate) -> String {
    format!("{date}T23:59:59+07:00")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    /// A camt.053.001.02 document around `body` (the elements inside `Stmt`).
    fn document(version: &str, body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}\">\
             <BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt>{body}</Stmt>\
             </BkToCstmrStmt></Document>"
        )
    }

    fn entry(amount: &str, ccy: &str, direction: &str, date: &str, details: &str) -> String {
        format!(
            "<Ntry><Amt Ccy=\"{ccy}\">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>\
             <Sts><Cd>BOOK</Cd></Sts><BookgDt>{date}</BookgDt>\
             <NtryDtls>{details}</NtryDtls></Ntry>"
        )
    }

    fn tx(id: &str, reference: &str) -> String {
        format!("<TxDtls><Refs><AcctSvcrRef>{id}</AcctSvcrRef></Refs><RmtInf><Ustrd>{reference}</Ustrd></RmtInf></TxDtls>")
    }

    const ACCT: &str =
        "<Id>S-1</Id><Acct><Id><Othr><Id>owso_0320@demo</Id></Othr></Id><Ccy>KHR</Ccy></Acct>";

    fn locations(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.location.as_str()).collect()
    }

    #[test]
    fn a_bank_statement_reads_with_its_account_period_and_lines() {
        let body = format!(
            "{ACCT}{}{}",
            entry(
                "600000",
                "KHR",
                "CRDT",
                "<Dt>2026-12-05</Dt>",
                &tx("HASH1", "0320018100")
            ),
            // 20:30 UTC on the 5th is the 6th in Phnom Penh.
            entry(
                "5000",
                "KHR",
                "DBIT",
                "<DtTm>2026-12-05T20:30:00Z</DtTm>",
                &tx("FEE1", "fee")
            )
            .replace(
                "</NtryDtls>",
                "</NtryDtls><AddtlNtryInf>Monthly &amp; fee</AddtlNtryInf>"
            ),
        );
        let statement = parse_camt053(document("02", &body).as_bytes()).unwrap();
        assert_eq!(statement.format, StatementFormat::Camt053);
        assert_eq!(statement.account_id.as_deref(), Some("owso_0320@demo"));
        assert_eq!(statement.currency.as_deref(), Some("KHR"));
        assert_eq!(statement.bank_statement_id.as_deref(), Some("S-1"));
        assert_eq!(statement.from.to_string(), "2026-12-05");
        assert_eq!(statement.to.to_string(), "2026-12-06");
        let [first, second] = statement.lines.as_slice() else {
            panic!("two lines expected")
        };
        assert_eq!(first.transaction_id.as_deref(), Some("HASH1"));
        assert_eq!(first.reference.as_deref(), Some("0320018100"));
        assert_eq!(first.amount, Decimal::from(600_000));
        assert_eq!(first.direction, Direction::Credit);
        assert_eq!(second.booking_date.to_string(), "2026-12-06");
        assert_eq!(second.direction, Direction::Debit);
        assert_eq!(second.description.as_deref(), Some("Monthly & fee"));
        assert_eq!(second.line_no, 2);
    }

    #[test]
    fn an_iban_and_a_prefixed_namespace_and_a_later_version_read() {
        let text = "<c:Document xmlns:c=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.13\">\
            <c:BkToCstmrStmt><c:Stmt><c:Acct><c:Id><c:IBAN>KH12ABCD</c:IBAN></c:Id></c:Acct>\
            <c:FrToDt><c:FrDtTm>2026-12-01T00:00:00+07:00</c:FrDtTm><c:ToDtTm>2026-12-31T23:59:59+07:00</c:ToDtTm></c:FrToDt>\
            </c:Stmt></c:BkToCstmrStmt></c:Document>";
        let statement = parse_camt053(text.as_bytes()).unwrap();
        assert_eq!(statement.account_id.as_deref(), Some("KH12ABCD"));
        assert_eq!(statement.from.to_string(), "2026-12-01");
        assert_eq!(statement.to.to_string(), "2026-12-31");
        assert!(statement.lines.is_empty());
    }

    #[test]
    fn a_batch_entry_lists_its_parts_with_the_entry_id() {
        let details = format!(
            "{}<TxDtls><Refs><AcctSvcrRef>T2</AcctSvcrRef></Refs><AmtDtls><TxAmt><Amt Ccy=\"USD\">2.50</Amt></TxAmt></AmtDtls><RmtInf><Ustrd>R2</Ustrd></RmtInf></TxDtls>",
            tx("T1", "R1")
        );
        let body = entry("12.50", "USD", "CRDT", "<Dt>2026-12-05</Dt>", &details)
            .replace("<NtryDtls>", "<AcctSvcrRef>BATCH-1</AcctSvcrRef><NtryDtls>");
        let statement = parse_camt053(document("08", &body).as_bytes()).unwrap();
        let line = &statement.lines[0];
        assert_eq!(line.transaction_id.as_deref(), Some("BATCH-1"));
        assert_eq!(line.reference, None);
        assert_eq!(
            line.parts,
            vec![
                LinePart {
                    transaction_id: Some("T1".into()),
                    reference: Some("R1".into()),
                    amount: None
                },
                LinePart {
                    transaction_id: Some("T2".into()),
                    reference: Some("R2".into()),
                    amount: Some("2.50".parse().unwrap())
                },
            ]
        );
    }

    #[test]
    fn every_bad_element_is_listed_with_its_path() {
        let body = format!(
            "{ACCT}{}{}{}{}{}{}",
            entry("12.5", "KHR", "CRDT", "<Dt>2026-12-05</Dt>", &tx("A", "a")),
            entry("5", "EUR", "CRDT", "<Dt>2026-12-05</Dt>", &tx("B", "b")),
            entry("5", "KHR", "CRDT", "<Dt>2026-12-32</Dt>", &tx("C", "c")),
            entry("5", "KHR", "IN", "<Dt>2026-12-05</Dt>", &tx("D", "d")),
            entry("5.00", "USD", "CRDT", "<Dt>2026-12-05</Dt>", &tx("E", "e")),
            entry("-5", "KHR", "CRDT", "<DtTm>yesterday</DtTm>", &tx("F", "f")),
        );
        let problems = parse_camt053(document("02", &body).as_bytes()).unwrap_err();
        assert_eq!(
            locations(&problems),
            [
                "Stmt/Ntry[1]/Amt",
                "Stmt/Ntry[2]/Amt",
                "Stmt/Ntry[3]/BookgDt/Dt",
                "Stmt/Ntry[4]/CdtDbtInd",
                "Stmt/Ntry[5]/Amt",
                "Stmt/Ntry[6]/Amt",
                "Stmt/Ntry[6]/BookgDt/DtTm",
            ],
            "{problems:?}"
        );
        assert!(problems[0].message.contains("decimal place"));
        assert!(problems[1].message.contains("EUR"));
        assert!(problems[4]
            .message
            .contains("differs from the account's KHR"));
    }

    #[test]
    fn missing_elements_and_a_bad_account_currency_are_problems() {
        let body = "<Acct><Ccy>XYZ</Ccy></Acct><Ntry><NtryDtls><TxDtls>\
                    <AmtDtls><TxAmt><Amt Ccy=\"KHR\">abc</Amt></TxAmt></AmtDtls></TxDtls></NtryDtls></Ntry>";
        let problems = parse_camt053(document("02", body).as_bytes()).unwrap_err();
        assert_eq!(
            locations(&problems),
            [
                "Stmt/Acct/Ccy",
                "Stmt/Ntry[1]/Amt",
                "Stmt/Ntry[1]/CdtDbtInd",
                "Stmt/Ntry[1]/BookgDt",
                "Stmt/Ntry[1]/NtryDtls/TxDtls[1]/AmtDtls/TxAmt/Amt",
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn a_doctype_and_an_entity_bomb_are_refused_unexpanded() {
        let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">\
                    <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>\
                    <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">&lol2;</Document>";
        let problems = parse_camt053(bomb.as_bytes()).unwrap_err();
        assert_eq!(locations(&problems), ["file"]);
        assert!(problems[0].message.contains("DOCTYPE"));
        // An entity used without a declaration is not expanded either.
        let body = format!("{ACCT}<AddtlStmtInf>&lol9;</AddtlStmtInf>");
        let problems = parse_camt053(document("02", &body).as_bytes()).unwrap_err();
        assert_eq!(locations(&problems), ["Stmt/AddtlStmtInf"]);
    }

    #[test]
    fn a_wrong_namespace_or_version_is_refused() {
        for namespace in [
            "urn:iso:std:iso:20022:tech:xsd:camt.053.001.01",
            "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08",
            "urn:iso:std:iso:20022:tech:xsd:camt.053.001.8",
            "",
        ] {
            let text = format!(
                "<Document xmlns=\"{namespace}\"><BkToCstmrStmt><Stmt/></BkToCstmrStmt></Document>"
            );
            let problems = parse_camt053(text.as_bytes()).unwrap_err();
            assert_eq!(locations(&problems), ["Document"], "{namespace}");
        }
        let problems = parse_camt053(b"<Statement/>").unwrap_err();
        assert_eq!(locations(&problems), ["Statement"]);
    }

    #[test]
    fn deep_nesting_big_files_and_broken_xml_are_refused() {
        let deep = format!("{ACCT}{}{}", "<X>".repeat(40), "</X>".repeat(40));
        let problems = parse_camt053(document("02", &deep).as_bytes()).unwrap_err();
        assert!(
            problems[0].message.contains("nested deeper"),
            "{problems:?}"
        );
        let big = vec![b' '; MAX_STATEMENT_BYTES + 1];
        assert_eq!(locations(&parse_camt053(&big).unwrap_err()), ["file"]);
        let broken = document("02", "<Id>S</Wrong>");
        assert!(parse_camt053(broken.as_bytes()).is_err());
        assert!(parse_camt053(b"").is_err());
        assert!(parse_camt053(b"\xff\xfe<").is_err());
        let two = document("02", "</Stmt><Stmt>");
        assert_eq!(
            locations(&parse_camt053(two.as_bytes()).unwrap_err()),
            ["Stmt[2]"]
        );
    }

    #[test]
    fn more_entries_than_a_statement_may_hold_are_refused() {
        let body = "<Ntry/>".repeat(MAX_STATEMENT_LINES + 1);
        let problems = parse_camt053(document("02", &body).as_bytes()).unwrap_err();
        let last = problems.last().unwrap();
        assert_eq!(
            last.location,
            format!("Stmt/Ntry[{}]", MAX_STATEMENT_LINES + 1)
        );
        assert!(last.message.contains("at most"));
    }

    #[test]
    fn an_entry_without_any_id_or_reference_is_a_problem() {
        let body = entry("5", "KHR", "CRDT", "<Dt>2026-12-05</Dt>", "<TxDtls/>");
        let problems = parse_camt053(document("02", &body).as_bytes()).unwrap_err();
        assert_eq!(locations(&problems), ["Stmt/Ntry[1]"]);
    }

    #[test]
    fn written_text_is_escaped_and_reads_back() {
        let line = StatementLine {
            line_no: 1,
            booking_date: "2026-12-05".parse().unwrap(),
            transaction_id: Some("a<b>&\"c'".into()),
            reference: Some("]]> <!DOCTYPE x>".into()),
            amount: "12.50".parse().unwrap(),
            currency: "USD".into(),
            direction: Direction::Credit,
            description: Some("ការបង់ប្រាក់ & fee".into()),
            parts: Vec::new(),
        };
        let statement = Statement {
            format: StatementFormat::Camt053,
            account_id: Some("owso_0320@demo".into()),
            currency: Some("USD".into()),
            bank_statement_id: Some("S<1>".into()),
            from: line.booking_date,
            to: line.booking_date,
            lines: vec![line],
        };
        let xml = write_camt053(&statement);
        assert!(!xml.contains("<!DOCTYPE"));
        assert_eq!(parse_camt053(xml.as_bytes()).unwrap(), statement);
    }
}
