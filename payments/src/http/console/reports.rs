//! The ministry's dashboard (issue 16): counts of intents by state, revenue by office, sector, channel and day, the office ranking, online share, time to pay, open exceptions by age; server-rendered SVG charts, each with its table and CSV.
//!
//! One app call (`app::reports::dashboard`) gives every figure; this module only turns them
//! into words, charts and tables. Each section's CSV link is the `/v1/reports/*` route with the
//! same filters and `format=csv`: those routes take the person's session cookie as a key, with
//! the same office scope.

use askama::Template;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::{ConsoleSession, Shell};
use crate::app::error::AppError;
use crate::app::money;
use crate::app::reports::{self, Dashboard, LatencyBucket, PeriodQuery, RevenueReport};
use crate::http::receipt_pages::query_param;
use crate::http::web::charts::{self, Bar, Point};
use crate::http::web::{self, format, Caching, Lang, PageRequest};
use crate::state::AppState;

/// The page's NAV href.
pub const REPORTS_HREF: &str = "/console/reports";

/// Offices drawn in the ranking's chart (the table lists them all).
const RANKING_BARS: usize = 25;

/// The routes of this module (merged into the console's).
pub fn routes() -> Router<AppState> {
    Router::new().route("/console/reports", get(get_reports))
}

/// One cell of a table: its text, and whether it is a number (right-aligned).
struct Cell {
    text: String,
    num: bool,
}

/// One row: the key (first cell, a row header) and its figures, with the raw numbers as data
/// attributes for tests and scripts.
struct Row {
    key: String,
    label: String,
    cells: Vec<Cell>,
    count: Option<i64>,
    amount_minor: Option<i64>,
    currency: Option<String>,
}

/// One section of the dashboard: a chart (SVG), its table and its CSV link.
struct Section {
    id: &'static str,
    title: String,
    note: Option<String>,
    charts: Vec<String>,
    headers: Vec<Cell>,
    rows: Vec<Row>,
    csv_href: String,
    empty: String,
}

#[derive(Template)]
#[template(path = "console_reports.html")]
struct ReportsPage<'a> {
    page: &'a PageRequest,
    shell: Option<Shell>,
    from: String,
    to: String,
    office_code: String,
    offices: Vec<(String, String)>,
    sections: Vec<Section>,
    median: Option<String>,
    paid: i64,
    verification: Option<(bool, String, String)>,
    /// Why the dates asked for were refused (English detail of the API's problem).
    refused: Option<String>,
}

fn header(text: &str, num: bool) -> Cell {
    Cell {
        text: text.to_owned(),
        num,
    }
}

fn num(value: i64) -> Cell {
    Cell {
        text: value.to_string(),
        num: true,
    }
}

fn money_text(amount_minor: i64, currency: &str) -> String {
    money::from_row(amount_minor, currency)
        .map(|money| format::money(&money))
        .unwrap_or_else(|_| format!("{amount_minor} {currency}"))
}

fn status_label(lang: Lang, status: &str) -> String {
    match status {
        "awaiting_payment" => lang.pick("កំពុងរង់ចាំការបង់ប្រាក់", "Awaiting payment"),
        "paid" => lang.pick("បានបង់", "Paid"),
        "expired" => lang.pick("ផុតកំណត់", "Expired"),
        "cancelled" => lang.pick("បានលុបចោល", "Cancelled"),
        other => other,
    }
    .to_owned()
}

fn channel_label(lang: Lang, group: &str) -> String {
    match group {
        "khqr" => "KHQR",
        "cash" => lang.pick("សាច់ប្រាក់", "Cash"),
        "bank" => lang.pick("ធនាគារ", "Bank"),
        "other" => lang.pick("ផ្សេងៗ (ពីបញ្ជីរង់ចាំ)", "Other (from suspense)"),
        other => other,
    }
    .to_owned()
}

fn age_label(lang: Lang, age: &str) -> String {
    match age {
        "0-1d" => lang.pick("០–១ ថ្ងៃ", "0–1 day"),
        "1-7d" => lang.pick("១–៧ ថ្ងៃ", "1–7 days"),
        "7-30d" => lang.pick("៧–៣០ ថ្ងៃ", "7–30 days"),
        "30d+" => lang.pick("លើស ៣០ ថ្ងៃ", "Over 30 days"),
        other => other,
    }
    .to_owned()
}

/// A duration as people read it: `45 min`, `2 h 15 min`, `3 d`.
fn duration(lang: Lang, seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        (seconds % 86_400) / 3600,
        (seconds % 3600) / 60,
    );
    let (day, hour, minute) = (
        lang.pick("ថ្ងៃ", "d"),
        lang.pick("ម៉ោង", "h"),
        lang.pick("នាទី", "min"),
    );
    match (d, h, m) {
        (0, 0, m) => format!("{m} {minute}"),
        (0, h, 0) => format!("{h} {hour}"),
        (0, h, m) => format!("{h} {hour} {m} {minute}"),
        (d, 0, _) => format!("{d} {day}"),
        (d, h, _) => format!("{d} {day} {h} {hour}"),
    }
}

/// A share per thousand as a percentage: `62.5 %`.
fn percent(per_mille: i64) -> String {
    format!("{}.{} %", per_mille / 10, per_mille % 10)
}

/// The `/v1/reports/*` CSV link with the page's filters.
fn csv_href(path: &str, dashboard: &Dashboard, extra: &str) -> String {
    let period = &dashboard.period;
    let mut href = format!("{path}?from={}&to={}", period.from, period.to);
    if let Some(code) = &period.office_code {
        href.push_str("&office_code=");
        href.push_str(&url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>());
    }
    href.push_str(extra);
    href.push_str("&format=csv");
    href
}

/// The currencies of a revenue report, KHR first.
fn currencies(report: &RevenueReport) -> Vec<String> {
    let mut found: Vec<String> = report
        .currency_totals
        .iter()
        .map(|total| total.currency.clone())
        .collect();
    found.sort_by_key(|currency| currency != "KHR");
    found
}

/// Rows of a revenue report (key label, count, amount).
fn revenue_rows(
    report: &RevenueReport,
    label: impl Fn(&reports::RevenueRow) -> String,
) -> Vec<Row> {
    report
        .data
        .iter()
        .map(|row| Row {
            key: row.key.clone(),
            label: label(row),
            cells: vec![
                num(row.count),
                Cell {
                    text: money_text(row.total_minor, &row.total.currency),
                    num: true,
                },
            ],
            count: Some(row.count),
            amount_minor: Some(row.total_minor),
            currency: Some(row.total.currency.clone()),
        })
        .collect()
}

/// One bar chart per currency of a revenue report.
fn revenue_bars(
    id: &'static str,
    title: &str,
    report: &RevenueReport,
    label: impl Fn(&reports::RevenueRow) -> String,
    limit: usize,
    empty: &str,
) -> Vec<String> {
    let currencies = currencies(report);
    if currencies.is_empty() {
        return vec![charts::bars(id, title, title, &[], empty)];
    }
    currencies
        .iter()
        .map(|currency| {
            let bars: Vec<Bar> = report
                .data
                .iter()
                .filter(|row| &row.total.currency == currency)
                .take(limit)
                .map(|row| Bar {
                    label: label(row),
                    value: row.total_minor,
                    shown: money_text(row.total_minor, currency),
                })
                .collect();
            charts::bars(
                &format!("{id}-{}", currency.to_lowercase()),
                &format!("{title} ({currency})"),
                title,
                &bars,
                empty,
            )
        })
        .collect()
}

fn sections(lang: Lang, dashboard: &Dashboard) -> Vec<Section> {
    let pick = |km: &str, en: &str| lang.pick(km, en).to_owned();
    let none = pick("គ្មានទិន្នន័យក្នុងរយៈពេលនេះទេ។", "Nothing in this period.");
    let count_header = || header(lang.pick("ចំនួនការបង់", "Payments"), true);
    let amount_header = || header(lang.pick("ចំណូល", "Revenue"), true);
    let mut out = Vec::new();

    // Intents by state.
    let title = pick("សំណើបង់ប្រាក់តាមស្ថានភាព", "Payment intents by state");
    let bars: Vec<Bar> = dashboard
        .intents
        .iter()
        .map(|row| Bar {
            label: status_label(lang, &row.status),
            value: row.count,
            shown: row.count.to_string(),
        })
        .collect();
    out.push(Section {
        id: "intents",
        note: Some(pick(
            "សំណើដែលបានបង្កើតក្នុងរយៈពេលនេះ តាមស្ថានភាពបច្ចុប្បន្ន។",
            "Intents created in the period, by their state now.",
        )),
        charts: vec![charts::bars("chart-intents", &title, &title, &bars, &none)],
        headers: vec![
            header(lang.pick("ស្ថានភាព", "State"), false),
            header(lang.pick("ចំនួន", "Count"), true),
        ],
        rows: dashboard
            .intents
            .iter()
            .map(|row| Row {
                key: row.status.clone(),
                label: status_label(lang, &row.status),
                cells: vec![num(row.count)],
                count: Some(row.count),
                amount_minor: None,
                currency: None,
            })
            .collect(),
        csv_href: csv_href("/v1/reports/intents", dashboard, ""),
        empty: none.clone(),
        title,
    });

    // Revenue by day (by month for a long period): a line per currency.
    let monthly = dashboard.series == reports::GroupBy::Month;
    let title = if monthly {
        pick("ចំណូលប្រចាំខែ", "Revenue by month")
    } else {
        pick("ចំណូលប្រចាំថ្ងៃ", "Revenue by day")
    };
    let interval_header = || {
        if monthly {
            header(lang.pick("ខែ", "Month"), false)
        } else {
            header(lang.pick("ថ្ងៃ", "Day"), false)
        }
    };
    let day_charts: Vec<String> = {
        let currencies = currencies(&dashboard.by_day);
        if currencies.is_empty() {
            vec![charts::line("chart-day", &title, &title, &[], None, &none)]
        } else {
            currencies
                .iter()
                .map(|currency| {
                    let points: Vec<Point> = dashboard
                        .by_day
                        .data
                        .iter()
                        .filter(|row| &row.total.currency == currency)
                        .map(|row| Point {
                            label: row.key.clone(),
                            value: row.total_minor,
                            shown: money_text(row.total_minor, currency),
                        })
                        .collect();
                    charts::line(
                        &format!("chart-day-{}", currency.to_lowercase()),
                        &format!("{title} ({currency})"),
                        &title,
                        &points,
                        None,
                        &none,
                    )
                })
                .collect()
        }
    };
    out.push(Section {
        id: "by-day",
        note: Some(if monthly {
            pick(
                "ពីសៀវភៅបញ្ជី៖ ចំណូលដកការលុបចោល តាមខែនៃការបង់ប្រាក់ (ម៉ោងកម្ពុជា)៖ រយៈពេលលើស ៩២ ថ្ងៃ បង្ហាញតាមខែ។",
                "From the ledger: revenue net of voids, by month of payment (Cambodian time): a period over 92 days is shown by month.",
            )
        } else {
            pick(
                "ពីសៀវភៅបញ្ជី៖ ចំណូលដកការលុបចោល តាមថ្ងៃនៃការបង់ប្រាក់ (ម៉ោងកម្ពុជា)។",
                "From the ledger: revenue net of voids, by day of payment (Cambodian time).",
            )
        }),
        charts: day_charts,
        headers: vec![interval_header(), count_header(), amount_header()],
        rows: revenue_rows(&dashboard.by_day, |row| row.key.clone()),
        csv_href: csv_href(
            "/v1/reports/revenue",
            dashboard,
            if monthly {
                "&group_by=month"
            } else {
                "&group_by=day"
            },
        ),
        empty: none.clone(),
        title,
    });

    // By channel.
    let title = pick("ចំណូលតាមឆានែល", "Revenue by channel");
    let channel = |row: &reports::RevenueRow| channel_label(lang, &row.key);
    out.push(Section {
        id: "by-channel",
        note: Some(pick(
            "KHQR, សាច់ប្រាក់ និងធនាគារ (ច្រកទូទាត់របស់ធនាគារ)។",
            "KHQR, cash and bank (the banks' gateways).",
        )),
        charts: revenue_bars(
            "chart-channel",
            &title,
            &dashboard.by_channel,
            channel,
            usize::MAX,
            &none,
        ),
        headers: vec![
            header(lang.pick("ឆានែល", "Channel"), false),
            count_header(),
            amount_header(),
        ],
        rows: revenue_rows(&dashboard.by_channel, channel),
        csv_href: csv_href("/v1/reports/revenue", dashboard, "&group_by=channel_group"),
        empty: none.clone(),
        title,
    });

    // By sector.
    let title = pick("ចំណូលតាមវិស័យ", "Revenue by sector");
    let sector = |row: &reports::RevenueRow| {
        match lang {
            Lang::Km => row.name_km.clone(),
            Lang::En => row.name_en.clone(),
        }
        .unwrap_or_else(|| row.key.clone())
    };
    out.push(Section {
        id: "by-sector",
        note: Some(pick(
            "ការបង់មួយដែលមានសេវាពីរវិស័យ ត្រូវបានរាប់ក្នុងវិស័យនីមួយៗ។",
            "A payment with services of two sectors counts in each.",
        )),
        charts: revenue_bars(
            "chart-sector",
            &title,
            &dashboard.by_sector,
            sector,
            usize::MAX,
            &none,
        ),
        headers: vec![
            header(lang.pick("វិស័យ", "Sector"), false),
            count_header(),
            amount_header(),
        ],
        rows: revenue_rows(&dashboard.by_sector, sector),
        csv_href: csv_href("/v1/reports/revenue", dashboard, "&group_by=sector"),
        empty: none.clone(),
        title,
    });

    // The ranking of offices.
    let title = pick("ចំណាត់ថ្នាក់ការិយាល័យតាមចំណូល", "Offices ranked by revenue");
    let office = |row: &reports::RevenueRow| {
        let name = match lang {
            Lang::Km => row.name_km.clone(),
            Lang::En => row.name_en.clone(),
        };
        match name {
            Some(name) => format!("{} {name}", row.key),
            None => row.key.clone(),
        }
    };
    let mut ranking = revenue_rows(&dashboard.by_office, office);
    for (row, found) in ranking.iter_mut().zip(&dashboard.by_office.data) {
        let province = found
            .province
            .as_ref()
            .map_or_else(String::new, |p| match lang {
                Lang::Km => p.name_km.clone(),
                Lang::En => p.name_en.clone(),
            });
        row.cells.insert(
            0,
            Cell {
                text: province,
                num: false,
            },
        );
    }
    out.push(Section {
        id: "by-office",
        note: Some(pick(
            "ពីច្រើនទៅតិច ជាមួយខេត្តនៃការិយាល័យ។",
            "Largest first, with each office's province.",
        )),
        charts: revenue_bars(
            "chart-office",
            &title,
            &dashboard.by_office,
            office,
            RANKING_BARS,
            &none,
        ),
        headers: vec![
            header(lang.pick("ការិយាល័យ", "Office"), false),
            header(lang.pick("ខេត្ត", "Province"), false),
            count_header(),
            amount_header(),
        ],
        rows: ranking,
        csv_href: csv_href("/v1/reports/revenue", dashboard, "&group_by=office"),
        empty: none.clone(),
        title,
    });

    // Online share.
    let title = if monthly {
        pick(
            "ចំណែកការបង់តាមអនឡាញ ប្រចាំខែ",
            "Online share of payments by month",
        )
    } else {
        pick("ចំណែកការបង់តាមអនឡាញ", "Online share of payments")
    };
    let points: Vec<Point> = dashboard
        .share
        .data
        .iter()
        .map(|row| Point {
            label: row.key.clone(),
            value: row.online_per_mille,
            shown: percent(row.online_per_mille),
        })
        .collect();
    out.push(Section {
        id: "online-share",
        note: Some(if monthly {
            pick(
                "ការបង់មិនមែនសាច់ប្រាក់ (KHQR និងធនាគារ) ក្នុងចំណោមការបង់ទាំងអស់ ប្រចាំខែ។",
                "Payments not in cash (KHQR and banks) among all payments, by month.",
            )
        } else {
            pick(
                "ការបង់មិនមែនសាច់ប្រាក់ (KHQR និងធនាគារ) ក្នុងចំណោមការបង់ទាំងអស់ ប្រចាំថ្ងៃ។",
                "Payments not in cash (KHQR and banks) among all payments, per day.",
            )
        }),
        charts: vec![charts::line(
            "chart-share",
            &title,
            &title,
            &points,
            Some(1000),
            &none,
        )],
        headers: vec![
            interval_header(),
            header(lang.pick("ការបង់", "Payments"), true),
            header(lang.pick("សាច់ប្រាក់", "Cash"), true),
            header(lang.pick("អនឡាញ", "Online"), true),
            header(lang.pick("ចំណែកអនឡាញ", "Online share"), true),
        ],
        rows: dashboard
            .share
            .data
            .iter()
            .map(|row| Row {
                key: row.key.clone(),
                label: row.key.clone(),
                cells: vec![
                    num(row.payments),
                    num(row.cash),
                    num(row.online),
                    Cell {
                        text: percent(row.online_per_mille),
                        num: true,
                    },
                ],
                count: Some(row.payments),
                amount_minor: None,
                currency: None,
            })
            .collect(),
        csv_href: csv_href(
            "/v1/reports/online-share",
            dashboard,
            if monthly { "&interval=month" } else { "" },
        ),
        empty: none.clone(),
        title,
    });

    // Time to pay, in bands.
    let title = pick("រយៈពេលពីសំណើដល់ការបង់", "Time from intent to paid");
    let bands = latency_bands(&dashboard.latency.buckets);
    let bars: Vec<Bar> = bands
        .iter()
        .map(|(from, to, count)| Bar {
            label: band_label(lang, *from, *to),
            value: *count,
            shown: count.to_string(),
        })
        .collect();
    out.push(Section {
        id: "time-to-pay",
        note: Some(pick(
            "សំណើដែលបានបង់ក្នុងរយៈពេលនេះ តាមរយៈពេលរង់ចាំ (ភាពច្បាស់៖ ១ នាទីក្រោម ១ ម៉ោង ១៥ នាទីក្រោម ១ ថ្ងៃ ១ ថ្ងៃក្រោម ៣០ ថ្ងៃ)។",
            "Intents paid in the period, by how long they waited (resolution: 1 minute under an hour, 15 minutes under a day, 1 day under 30 days).",
        )),
        charts: vec![charts::bars("chart-latency", &title, &title, &bars, &none)],
        headers: vec![
            header(lang.pick("រយៈពេល", "Waited"), false),
            header(lang.pick("ចំនួន", "Count"), true),
        ],
        rows: bands
            .iter()
            .map(|(from, to, count)| Row {
                key: from.to_string(),
                label: band_label(lang, *from, *to),
                cells: vec![num(*count)],
                count: Some(*count),
                amount_minor: None,
                currency: None,
            })
            .collect(),
        csv_href: csv_href("/v1/reports/time-to-pay", dashboard, ""),
        empty: none.clone(),
        title,
    });

    // Open exceptions by age.
    let title = pick("ករណីលើកលែងបើកចំហតាមអាយុ", "Open exceptions by age");
    let bars: Vec<Bar> = dashboard
        .exceptions
        .data
        .iter()
        .map(|row| Bar {
            label: age_label(lang, &row.age),
            value: row.count,
            shown: row.count.to_string(),
        })
        .collect();
    out.push(Section {
        id: "exceptions",
        note: Some(pick(
            "ឥឡូវនេះ មិនអាស្រ័យលើរយៈពេលដែលបានជ្រើសទេ។",
            "Now, whatever the period chosen.",
        )),
        charts: vec![charts::bars(
            "chart-exceptions",
            &title,
            &title,
            &bars,
            &none,
        )],
        headers: vec![
            header(lang.pick("អាយុ", "Age"), false),
            header(lang.pick("ចំនួន", "Count"), true),
        ],
        rows: dashboard
            .exceptions
            .data
            .iter()
            .map(|row| Row {
                key: row.age.clone(),
                label: age_label(lang, &row.age),
                cells: vec![num(row.count)],
                count: Some(row.count),
                amount_minor: None,
                currency: None,
            })
            .collect(),
        csv_href: csv_href("/v1/reports/exceptions", dashboard, ""),
        empty: none,
        title,
    });
    out
}

/// Coarse bands of the histogram for the page: (from, to or none, count), empty bands left out.
fn latency_bands(buckets: &[LatencyBucket]) -> Vec<(i64, Option<i64>, i64)> {
    const EDGES: [i64; 9] = [0, 60, 300, 900, 3600, 14_400, 86_400, 604_800, 2_592_000];
    let mut bands: Vec<(i64, Option<i64>, i64)> = EDGES
        .iter()
        .enumerate()
        .map(|(index, from)| (*from, EDGES.get(index + 1).copied(), 0))
        .collect();
    for bucket in buckets {
        if let Some(band) = bands
            .iter_mut()
            .rev()
            .find(|(from, _, _)| bucket.from_seconds >= *from)
        {
            band.2 += bucket.count;
        }
    }
    bands.retain(|(_, _, count)| *count != 0);
    bands
}

fn band_label(lang: Lang, from: i64, to: Option<i64>) -> String {
    match to {
        Some(to) => format!("{} – {}", duration(lang, from), duration(lang, to)),
        None => format!("≥ {}", duration(lang, from)),
    }
}

#[utoipa::path(get, path = "/console/reports", tag = "console",
    params(("from" = Option<String>, Query, description = "First Cambodian day (default: 29 days before `to`)"),
        ("to" = Option<String>, Query, description = "Last Cambodian day (default: today)"),
        ("office_code" = Option<String>, Query, description = "One of the person's offices")),
    responses(
        (status = 200, description = "HTML: the dashboard: intents by state, revenue by day, channel, sector and office, online share, time to pay, open exceptions by age and the last chain verification; each chart with its table and CSV link", content_type = "text/html"),
        (status = 303, description = "No session: to /console/login"),
        (status = 400, description = "HTML: a bad date", content_type = "text/html"),
        (status = 403, description = "HTML: not a supervisor, auditor or admin", content_type = "text/html")))]
pub async fn get_reports(
    State(state): State<AppState>,
    page: PageRequest,
    ConsoleSession(session): ConsoleSession,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let query = PeriodQuery {
        from: query_param(uri.query(), "from"),
        to: query_param(uri.query(), "to"),
        office_code: query_param(uri.query(), "office_code"),
    };
    // Dates the app refuses (not a date, from after to, too long) show the default period with
    // the refusal above it (400), so the person can correct the form.
    let (dashboard, refused, status) =
        match reports::dashboard(&state, &session.principal, &query).await {
            Ok(dashboard) => (dashboard, None, StatusCode::OK),
            Err(AppError::Malformed(refusal)) => {
                let fallback = PeriodQuery {
                    from: None,
                    to: None,
                    office_code: query.office_code.clone(),
                };
                match reports::dashboard(&state, &session.principal, &fallback).await {
                    Ok(dashboard) => (dashboard, Some(refusal.detail), StatusCode::BAD_REQUEST),
                    Err(error) => return web::error_page(&page, error),
                }
            }
            Err(error) => return web::error_page(&page, error),
        };
    let lang = page.lang;
    let latency = &dashboard.latency;
    let median = latency.median_from_seconds.map(|from| {
        band_label(
            lang,
            from,
            latency.median_width_seconds.map(|width| from + width),
        )
    });
    let verification = dashboard.verification.as_ref().map(|found| {
        (
            found.ok,
            format::local_time(found.finished_at),
            found.started_by.clone(),
        )
    });
    let view = ReportsPage {
        page: &page,
        shell: Some(Shell::new(&session, "reports")),
        from: dashboard.period.from.to_string(),
        to: dashboard.period.to.to_string(),
        office_code: dashboard.period.office_code.clone().unwrap_or_default(),
        offices: dashboard
            .offices
            .iter()
            .map(|office| {
                (
                    office.code.clone(),
                    format!(
                        "{} {}",
                        office.code,
                        lang.pick(&office.name_km, &office.name_en)
                    ),
                )
            })
            .collect(),
        sections: sections(lang, &dashboard),
        refused,
        median,
        paid: latency.paid,
        verification,
    };
    web::render(&page, status, &view, Caching::Private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_shares_read_as_people_say_them() {
        assert_eq!(duration(Lang::En, 0), "0 min");
        assert_eq!(duration(Lang::En, 8100), "2 h 15 min");
        assert_eq!(duration(Lang::En, 3600), "1 h");
        assert_eq!(duration(Lang::En, 3 * 86_400), "3 d");
        assert_eq!(percent(625), "62.5 %");
        assert_eq!(percent(1000), "100.0 %");
    }

    #[test]
    fn latency_bands_sum_their_buckets() {
        let bucket = |from: i64, count: i64| LatencyBucket {
            from_seconds: from,
            width_seconds: reports::bucket_width(from),
            count,
        };
        let bands = latency_bands(&[
            bucket(0, 2),
            bucket(120, 1),
            bucket(240, 1),
            bucket(2_592_000, 5),
        ]);
        assert_eq!(
            bands,
            vec![(0, Some(60), 2), (60, Some(300), 2), (2_592_000, None, 5)]
        );
    }
}
