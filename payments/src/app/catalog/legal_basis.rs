//! What a citizen may read of a fee's legal basis. The catalog keeps two texts per service:
//! the source's own words with the researchers' notes (`legal_basis`, for auditors and the
//! catalog export) and the citation as the source prints it (`legal_basis_public`). Pages,
//! receipts and public JSON take the second through this module, never the first.

use crate::app::quotes::QuoteLine;

/// The legal basis a citizen is shown for a quote line: the citation, or `None` when no legal
/// basis is published (the page then says so in its language).
///
/// Lines priced before the catalog kept the two texts apart carry no public text and get
/// `None`: their only text, `legal_basis`, may be a research note ("not printed in the page
/// excerpt (presumably ...)"), and a note shown as law is worse than "not published".
pub fn public_legal_basis(line: &QuoteLine) -> Option<String> {
    line.legal_basis_public
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// The public legal basis of a catalog service: its citation, or `None` (not published).
pub fn service_public_legal_basis(legal_basis_public: &str) -> Option<String> {
    Some(legal_basis_public.trim())
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use serde_json::json;

    fn line(extra: serde_json::Value) -> QuoteLine {
        let mut value = json!({
            "service_code": "construction.villa_permit", "sector": "construction",
            "description_km": "ក", "description_en": "Villa", "quantity": 1, "unit": "permit",
            "unit_price": {"amount": "600000", "currency": "KHR"},
            "amount": {"amount": "600000", "currency": "KHR"},
            "revenue_account": "4100-0320-construction-KHR", "rule": "fixed",
            "legal_basis": "not printed in the page excerpt (presumably Sub-decree 18/2017)"
        });
        for (key, field) in extra.as_object().unwrap() {
            value[key] = field.clone();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_line_stored_before_the_public_text_shows_no_note() {
        assert_eq!(public_legal_basis(&line(json!({}))), None);
        assert_eq!(
            public_legal_basis(&line(json!({"legal_basis_public": null}))),
            None
        );
        assert_eq!(
            public_legal_basis(&line(json!({"legal_basis_public": "  "}))),
            None
        );
    }

    #[test]
    fn a_line_with_a_citation_shows_the_citation() {
        assert_eq!(
            public_legal_basis(&line(
                json!({"legal_basis_public": "Joint Prakas No.1013 MEF.Prk, 28-12-2012"})
            ))
            .as_deref(),
            Some("Joint Prakas No.1013 MEF.Prk, 28-12-2012")
        );
    }
}
