//! The citizen's payment page: Khmer first, English with `?lang=en`. A fuller page comes with
//! the web UIs; this one shows what is owed and its state, with no script.

use super::public::PublicPaymentView;
use crate::app::states::IntentStatus;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The page's words in its language: (lang, title, case, total, status, receipt).
fn labels(english: bool) -> [&'static str; 6] {
    if english {
        [
            "en",
            "Service fee payment",
            "Service registration code",
            "Total",
            "Status",
            "Receipt",
        ]
    } else {
        [
            "km",
            "ការបង់កម្រៃសេវា",
            "លេខកូដចុះបញ្ជីសេវា",
            "តម្លៃសរុប",
            "ស្ថានភាព",
            "បង្កាន់ដៃ",
        ]
    }
}

fn status_text(status: IntentStatus, english: bool) -> &'static str {
    match (status, english) {
        (IntentStatus::Paid, false) => "បានបង់ប្រាក់",
        (IntentStatus::AwaitingPayment, false) => "រង់ចាំការបង់ប្រាក់",
        (IntentStatus::Cancelled, false) => "បានលុបចោល",
        (IntentStatus::Expired, false) => "ផុតកំណត់",
        (IntentStatus::Paid, true) => "Paid",
        (IntentStatus::AwaitingPayment, true) => "Awaiting payment",
        (IntentStatus::Cancelled, true) => "Cancelled",
        (IntentStatus::Expired, true) => "Expired",
    }
}

pub fn pay_page(view: &PublicPaymentView, english: bool) -> String {
    let [lang, title, case_label, total_label, status_label, receipt_label] = labels(english);
    let status = status_text(view.status, english);
    let office = if english {
        &view.office_name_en
    } else {
        &view.office_name_km
    };
    let mut lines = String::new();
    for line in &view.lines {
        let name = if english {
            &line.description_en
        } else {
            &line.description_km
        };
        lines.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{} {}</td></tr>",
            escape(name),
            line.quantity,
            escape(&line.amount.amount),
            escape(&line.amount.currency)
        ));
    }
    let receipt = view
        .receipt_number
        .as_deref()
        .map(|number| {
            format!(
                "<p>{receipt_label}: <strong>{}</strong></p>",
                escape(number)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\
<body><h1>{title}</h1><p>{office}</p><p>{case_label}: <strong>{case}</strong></p>\
<table>{lines}</table><p>{total_label}: <strong>{total} {currency}</strong></p>\
<p>{status_label}: <strong>{status}</strong></p>{receipt}</body></html>",
        office = escape(office),
        case = escape(&view.case_reference),
        total = escape(&view.total.amount),
        currency = escape(&view.total.currency),
    )
}
