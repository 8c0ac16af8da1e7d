//! `GET /services`: the public catalog as a page. The 17 sectors, each service with its fee
//! written out in words (fixed prices, prices per unit, bands, choices, a maximum with its
//! preferential price), its unit, legal basis and time limit; searchable by Khmer or English
//! name with a plain GET form. The same data as `GET /v1/services`, from the schedule in force.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use ledger::Money;

use crate::app::catalog::describe::ServiceDescription;
use crate::app::catalog::{self, service_public_legal_basis, CatalogPage};
use crate::app::error::AppError;
use crate::app::fees::model::ServiceEntry;
use crate::app::fees::params;
use crate::app::fees::rules::{Band, FeeRule};
use crate::http::web::{self, format, Caching, Lang, PageRequest};
use crate::state::AppState;

/// Shared caches may keep the page this long: the catalog changes only when a new schedule
/// version takes effect (at a day's start), and a search is the same for everyone.
const CACHE_SECONDS: u32 = 300;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServicesPageQuery {
    /// Words of a service's Khmer or English name (or its code).
    pub q: Option<String>,
    /// A sector code; an unknown one is the not-found page.
    pub sector: Option<String>,
    /// `km` (default) or `en`.
    pub lang: Option<String>,
}

/// `q` and `sector` of the query string. Read leniently: a page never answers a malformed
/// query with an error document; what cannot be decoded is replaced, and other names ignored.
fn read_query(raw: Option<&str>) -> (Option<String>, Option<String>) {
    let mut query = None;
    let mut sector = None;
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "q" => query = Some(value.into_owned()),
            "sector" => sector = Some(value.into_owned()),
            _ => {}
        }
    }
    (query, sector)
}

#[utoipa::path(get, path = "/services", tag = "citizens", params(ServicesPageQuery),
    responses(
        (status = 200, description = "HTML page: the sectors and the services of the schedule in force with their fees in words, Khmer by default", content_type = "text/html"),
        (status = 404, description = "HTML not-found page: no such sector", content_type = "text/html")))]
pub async fn get_services_page(
    State(state): State<AppState>,
    page: PageRequest,
    RawQuery(raw): RawQuery,
) -> Response {
    let (query, sector) = read_query(raw.as_deref());
    match catalog::catalog_page(&state, sector.as_deref(), query.as_deref()).await {
        Ok(found) => {
            let view = ServicesPage::new(&page, found);
            web::render(&page, StatusCode::OK, &view, Caching::Public(CACHE_SECONDS))
        }
        Err(AppError::NotFound(_)) => {
            web::not_found(&page, "រកមិនឃើញវិស័យនេះទេ។", "There is no such sector.")
        }
        // Not something a person typed: the database is away (503 with Retry-After), as a
        // page in the person's language.
        Err(other) => web::error_page(&page, other),
    }
}

/// A sector in the filter list.
struct SectorOption {
    code: String,
    name: String,
    selected: bool,
}

/// One price of a service: the conditions that select it (none for a single price) and the
/// price in words.
struct FeeLine {
    condition: Option<String>,
    price: String,
}

struct ServiceRow {
    code: String,
    name: String,
    other_name: String,
    fee_published: bool,
    fees: Vec<FeeLine>,
    unit: String,
    legal_basis: Option<String>,
    time_limit: String,
    validity: Option<String>,
}

struct SectorBlock {
    code: String,
    name: String,
    services: Vec<ServiceRow>,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage<'a> {
    page: &'a PageRequest,
    query: String,
    options: Vec<SectorOption>,
    sectors: Vec<SectorBlock>,
    searching: bool,
    query_refused: bool,
    matched: usize,
    schedule_version: Option<String>,
}

impl<'a> ServicesPage<'a> {
    fn new(page: &'a PageRequest, found: CatalogPage) -> ServicesPage<'a> {
        let lang = page.lang;
        let options = found
            .all_sectors
            .iter()
            .map(|sector| SectorOption {
                code: sector.code.clone(),
                name: lang.pick(&sector.name_km, &sector.name_en).to_owned(),
                selected: found.sector.as_deref() == Some(sector.code.as_str()),
            })
            .collect();
        let sectors = found
            .sectors
            .into_iter()
            .map(|block| SectorBlock {
                name: lang
                    .pick(&block.sector.name_km, &block.sector.name_en)
                    .to_owned(),
                code: block.sector.code,
                services: block
                    .services
                    .iter()
                    .map(|description| service_row(description, lang))
                    .collect(),
            })
            .collect();
        ServicesPage {
            page,
            searching: !found.query.is_empty() || found.query_refused,
            query: found.query,
            options,
            sectors,
            query_refused: found.query_refused,
            matched: found.matched,
            schedule_version: found.schedule_version,
        }
    }
}

fn service_row(description: &ServiceDescription, lang: Lang) -> ServiceRow {
    let service = &description.service;
    let mut fees = Vec::new();
    walk(&service.rule, service, lang, &mut Vec::new(), &mut fees);
    ServiceRow {
        code: service.code.clone(),
        name: lang.pick(&service.name_km, &service.name_en).to_owned(),
        other_name: lang
            .other()
            .pick(&service.name_km, &service.name_en)
            .to_owned(),
        fee_published: description.fee_published,
        fees,
        unit: unit_name(&service.unit, lang),
        legal_basis: service_public_legal_basis(&service.legal_basis_public),
        time_limit: time_limit(&service.time_limit_text, service.time_limit_days, lang),
        validity: validity(&service.validity, lang),
    }
}

/// Every leaf of the rule with the conditions that lead to it, in words.
fn walk(
    rule: &FeeRule,
    service: &ServiceEntry,
    lang: Lang,
    conditions: &mut Vec<String>,
    out: &mut Vec<FeeLine>,
) {
    match rule {
        FeeRule::Bands { parameter, bands } => {
            for band in bands {
                conditions.push(band_text(parameter, band, lang));
                walk(&band.rule, service, lang, conditions, out);
                conditions.pop();
            }
        }
        FeeRule::Choice { parameter, options } => {
            for option in options {
                conditions.push(choice_text(parameter, &option.value, lang));
                walk(&option.rule, service, lang, conditions, out);
                conditions.pop();
            }
        }
        leaf => out.push(FeeLine {
            condition: (!conditions.is_empty()).then(|| conditions.join(", ")),
            price: leaf_text(leaf, service, lang),
        }),
    }
}

/// An amount of the rule as people read it; a rule's amounts were checked at import, so the
/// fallback (the text as stored, with its currency) only guards against a broken row.
fn money_text(text: &str, service: &ServiceEntry) -> String {
    Money::parse(text, service.currency).map_or_else(
        |_| format!("{text} {}", service.currency.code()),
        |money| format::money(&money),
    )
}

fn leaf_text(leaf: &FeeRule, service: &ServiceEntry, lang: Lang) -> String {
    let unit = unit_name(&service.unit, lang);
    let per_unit = |amount: &str| match lang {
        Lang::Km => format!("{} ក្នុងមួយ{unit}", money_text(amount, service)),
        Lang::En => format!("{} per {unit}", money_text(amount, service)),
    };
    match leaf {
        FeeRule::Fixed { amount, .. } | FeeRule::PerUnit { amount, .. } => per_unit(amount),
        FeeRule::Maximum {
            amount,
            preferential,
            ..
        } => {
            let maximum = match lang {
                Lang::Km => format!("អតិបរមា {}", per_unit(amount)),
                Lang::En => format!("at most {}", per_unit(amount)),
            };
            match preferential {
                Some(preferential) => format!(
                    "{maximum}{}{}",
                    lang.pick("; តម្លៃអនុគ្រោះ ", "; preferential price "),
                    money_text(preferential, service)
                ),
                None => maximum,
            }
        }
        FeeRule::Free { .. } => lang.pick("ឥតគិតថ្លៃ", "free of charge").to_owned(),
        FeeRule::Unpublished { .. } | FeeRule::Bands { .. } | FeeRule::Choice { .. } => lang
            .pick("មិនទាន់បានផ្សព្វផ្សាយកម្រៃ", "fee not published")
            .to_owned(),
    }
}

/// The unit of a band's parameter, as written after a number.
fn parameter_unit(parameter: &str, lang: Lang) -> String {
    match params::lookup(parameter).and_then(|definition| definition.unit) {
        Some("m2") => "m²".to_owned(),
        Some("seat") => lang.pick("កៅអី", "seats").to_owned(),
        Some("worker") => lang.pick("កម្មករ", "workers").to_owned(),
        Some(other) => other.to_owned(),
        None => String::new(),
    }
}

/// A band in words: "over 100 up to 200 m²", "less than 100 m²", "500 m² or more".
fn band_text(parameter: &str, band: &Band, lang: Lang) -> String {
    let unit = parameter_unit(parameter, lang);
    // Areas are greater than zero anyway: "over 0" says nothing.
    let lower = band
        .lower
        .as_ref()
        .filter(|bound| bound.value != "0" || bound.inclusive);
    let text = match (lower, &band.upper, lang) {
        (None, None, Lang::Km) => "គ្រប់ទំហំ".to_owned(),
        (None, None, Lang::En) => "any".to_owned(),
        (Some(lower), None, Lang::Km) if lower.inclusive => {
            format!("ចាប់ពី {} {unit} ឡើងទៅ", lower.value)
        }
        (Some(lower), None, Lang::Km) => format!("លើស {} {unit}", lower.value),
        (Some(lower), None, Lang::En) if lower.inclusive => {
            format!("{} {unit} or more", lower.value)
        }
        (Some(lower), None, Lang::En) => format!("over {} {unit}", lower.value),
        (None, Some(upper), Lang::Km) if upper.inclusive => {
            format!("រហូតដល់ {} {unit}", upper.value)
        }
        (None, Some(upper), Lang::Km) => format!("តិចជាង {} {unit}", upper.value),
        (None, Some(upper), Lang::En) if upper.inclusive => {
            format!("up to {} {unit}", upper.value)
        }
        (None, Some(upper), Lang::En) => format!("less than {} {unit}", upper.value),
        (Some(lower), Some(upper), Lang::Km) => format!(
            "{} {} {} {} {unit}",
            if lower.inclusive {
                "ពី"
            } else {
                "លើស"
            },
            lower.value,
            if upper.inclusive {
                "ដល់"
            } else {
                "ដល់ក្រោម"
            },
            upper.value
        ),
        (Some(lower), Some(upper), Lang::En) => format!(
            "{} {} {} {} {unit}",
            if lower.inclusive { "from" } else { "over" },
            lower.value,
            if upper.inclusive {
                "up to"
            } else {
                "to less than"
            },
            upper.value
        ),
    };
    text.trim_end().to_owned()
}

/// A choice in words: a location, a province group, a category.
fn choice_text(parameter: &str, value: &str, lang: Lang) -> String {
    let known = match (parameter, value) {
        ("location", "urban") => Some(("ក្នុងទីប្រជុំជន", "in town")),
        ("location", "outside_town") => Some(("ក្រៅទីប្រជុំជន", "outside town")),
        ("province_group", "major") => Some((
            "ភ្នំពេញ កណ្ដាល ព្រះសីហនុ សៀមរាប",
            "Phnom Penh, Kandal, Preah Sihanouk, Siem Reap",
        )),
        ("province_group", "other") => Some(("ខេត្តផ្សេងទៀត", "other provinces")),
        _ => None,
    };
    match (known, parameter) {
        (Some((km, en)), _) => lang.pick(km, en).to_owned(),
        (None, "category") => match lang {
            Lang::Km => format!("ប្រភេទ {value}"),
            Lang::En => format!("type {value}"),
        },
        (None, _) => format!("{parameter}: {value}"),
    }
}

/// A unit of the catalog (permit, room, sheet, ...) in the page's language.
fn unit_name(unit: &str, lang: Lang) -> String {
    let km = match unit {
        "application" => "ពាក្យស្នើសុំ",
        "case" => "ករណី",
        "certificate" => "លិខិតបញ្ជាក់",
        "copy" => "ច្បាប់",
        "day" => "ថ្ងៃ",
        "enterprise" => "សហគ្រាស",
        "licence" => "អាជ្ញាប័ណ្ណ",
        "passport" => "លិខិតឆ្លងដែន",
        "permit" => "លិខិតអនុញ្ញាត",
        "plot" => "ក្បាលដី",
        "room" => "បន្ទប់",
        "sheet" => "សន្លឹក",
        "transaction" => "ប្រតិបត្តិការ",
        "vehicle" => "យានយន្ត",
        _ => unit,
    };
    lang.pick(km, unit).to_owned()
}

/// "3-5" working days, "1 month", or "not published".
fn time_limit(text: &str, days: Option<i32>, lang: Lang) -> String {
    let text = text.trim();
    let text = if text.is_empty() {
        match days {
            Some(days) => days.to_string(),
            None => return lang.pick("មិនទាន់បានផ្សព្វផ្សាយ", "not published").to_owned(),
        }
    } else {
        text.to_owned()
    };
    let is_days = !text.is_empty()
        && text
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()));
    if is_days {
        return match lang {
            Lang::Km => format!("{text} ថ្ងៃធ្វើការ"),
            Lang::En if text == "1" => "1 working day".to_owned(),
            Lang::En => format!("{text} working days"),
        };
    }
    period(&text, lang)
}

/// A period of the catalog ("1 month", "5 years", "permanent", "once") in the page's language.
fn period(text: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return text.to_owned();
    }
    match text {
        "permanent" => return "អចិន្ត្រៃយ៍".to_owned(),
        "once" => return "តែម្តង".to_owned(),
        _ => {}
    }
    match text.split_once(' ') {
        Some((number, "month" | "months")) => format!("{number} ខែ"),
        Some((number, "year" | "years")) => format!("{number} ឆ្នាំ"),
        Some((number, "day" | "days")) => format!("{number} ថ្ងៃ"),
        _ => text.to_owned(),
    }
}

fn validity(text: &str, lang: Lang) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| period(text, lang))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::app::fees::rules::Bound;

    fn bound(value: &str, inclusive: bool) -> Option<Bound> {
        Some(Bound {
            value: value.to_owned(),
            inclusive,
        })
    }

    fn band(lower: Option<Bound>, upper: Option<Bound>) -> Band {
        Band {
            lower,
            upper,
            rule: FeeRule::Free {
                source_rows: vec![],
            },
        }
    }

    #[test]
    fn bands_read_as_words() {
        let area = "floor_area_m2";
        let up_to = band(bound("0", false), bound("100", true));
        assert_eq!(band_text(area, &up_to, Lang::En), "up to 100 m²");
        assert_eq!(band_text(area, &up_to, Lang::Km), "រហូតដល់ 100 m²");
        let middle = band(bound("100", false), bound("200", true));
        assert_eq!(band_text(area, &middle, Lang::En), "over 100 up to 200 m²");
        assert_eq!(band_text(area, &middle, Lang::Km), "លើស 100 ដល់ 200 m²");
        let half_open = band(bound("100", true), bound("500", false));
        assert_eq!(
            band_text(area, &half_open, Lang::En),
            "from 100 to less than 500 m²"
        );
        let above = band(bound("400", false), None);
        assert_eq!(band_text(area, &above, Lang::En), "over 400 m²");
        let from = band(bound("500", true), None);
        assert_eq!(band_text(area, &from, Lang::En), "500 m² or more");
        let seats = band(bound("2", true), bound("4", true));
        assert_eq!(band_text("seats", &seats, Lang::Km), "ពី 2 ដល់ 4 កៅអី");
    }

    #[test]
    fn time_limits_and_periods_read_as_words() {
        assert_eq!(time_limit("3-5", Some(5), Lang::En), "3-5 working days");
        assert_eq!(time_limit("1", Some(1), Lang::En), "1 working day");
        assert_eq!(time_limit("25", Some(25), Lang::Km), "25 ថ្ងៃធ្វើការ");
        assert_eq!(time_limit("1 month", None, Lang::Km), "1 ខែ");
        assert_eq!(time_limit("", None, Lang::En), "not published");
        assert_eq!(validity("5 years", Lang::Km).as_deref(), Some("5 ឆ្នាំ"));
        assert_eq!(validity("", Lang::Km), None);
    }

    #[test]
    fn odd_query_strings_are_read_not_refused() {
        assert_eq!(
            read_query(Some("q=%E1%9E%9F&sector=tourism&x=1")),
            (Some("ស".to_owned()), Some("tourism".to_owned()))
        );
        assert_eq!(read_query(Some("q=%zz%00&q")).0.as_deref(), Some(""));
        assert_eq!(read_query(None), (None, None));
    }
}
