//! The dashboard's figures (API.md "Reports", docs/API.md "Reports"): intents by state,
//! revenue by office, sector, channel or day from the ledger, the online share of payments,
//! the time from intent to paid and the open exceptions by age, for a period of Cambodian
//! days and the caller's offices. Read from the roll-ups of migrations 0022 and 0026
//! (db::reports): whole months from the monthly rows, except for a day or week series.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Principal, Role};
use super::csv_cells::neutralise;
use super::error::AppError;
use super::money::MoneyView;
use crate::db;
use crate::db::reports::Scope;
use crate::state::AppState;

/// Who reads the dashboard of their offices.
const REPORT_ROLES: [Role; 3] = [Role::Auditor, Role::Supervisor, Role::Admin];

/// The longest period, in days: two years and a day, the dashboard's widest view. A longer
/// one is refused (400) rather than summed slowly.
pub const MAX_DAYS: u64 = 732;

/// The longest period whose dashboard series (revenue, online share) are per day; a longer
/// one shows them per month, so every figure of it reads the monthly roll-ups.
pub const DAY_SERIES_MAX_DAYS: i64 = 92;

/// Days in the default period (the last 30 Cambodian days, today included).
pub const DEFAULT_DAYS: u64 = 30;

/// The statuses of an intent, in the order reports list them.
pub const STATUSES: [&str; 4] = ["awaiting_payment", "paid", "expired", "cancelled"];

/// What a caller asks for: raw query values, checked by [`PeriodQuery::resolve`].
#[derive(Debug, Clone, Default)]
pub struct PeriodQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub office_code: Option<String>,
}

/// A checked period: Cambodian days, inclusive, and the offices counted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Period {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The one office asked for; absent: every office of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_code: Option<String>,
    /// The offices counted (`None`: all), not serialized.
    #[serde(skip)]
    pub offices: Option<Vec<String>>,
}

impl Period {
    fn scope(&self) -> Scope<'_> {
        Scope {
            from: self.from,
            to: self.to,
            offices: self.offices.as_deref(),
            months: true,
        }
    }

    /// Days in the period.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// Today in Cambodia (UTC+7, no daylight saving).
pub fn cambodian_today() -> NaiveDate {
    (Utc::now() + chrono::TimeDelta::hours(7)).date_naive()
}

fn date(raw: &str, param: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::bad_request(format!("{param} must be a date like 2026-12-06"))
            .with("parameter", param)
    })
}

impl PeriodQuery {
    /// Checks the dates (defaults: the last [`DEFAULT_DAYS`] days) and the office: one the
    /// caller does not see is "not found", as an office that does not exist.
    pub async fn resolve(
        &self,
        conn: &mut sqlx::PgConnection,
        principal: &Principal,
    ) -> Result<Period, AppError> {
        let present = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let today = cambodian_today();
        let to = match present(&self.to) {
            Some(raw) => date(&raw, "to")?,
            None => today,
        };
        let from = match present(&self.from) {
            Some(raw) => date(&raw, "from")?,
            None => to
                .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                .unwrap_or(to),
        };
        if from > to {
            return Err(
                AppError::bad_request("from must not be after to").with("parameter", "from")
            );
        }
        let too_long = from
            .checked_add_days(Days::new(MAX_DAYS))
            .is_some_and(|limit| to >= limit);
        if too_long {
            return Err(AppError::bad_request(format!(
                "a period is at most {MAX_DAYS} days; narrow from and to"
            ))
            .with("parameter", "to"));
        }
        let office_code = present(&self.office_code).map(|code| code.trim().to_owned());
        let offices = match &office_code {
            Some(code) => {
                let known = db::offices::exists(conn, code).await?;
                if !known || !principal.sees_office(code) {
                    return Err(AppError::not_found("office"));
                }
                Some(vec![code.clone()])
            }
            None => principal.office_filter().map(<[String]>::to_vec),
        };
        Ok(Period {
            from,
            to,
            office_code,
            offices,
        })
    }
}

/// Intents created in a period, per status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusCount {
    #[schema(example = "paid")]
    pub status: String,
    pub count: i64,
}

/// The intents report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntentReport {
    pub data: Vec<StatusCount>,
    /// Extension: the period and office the figures are for.
    pub period: Period,
}

/// Intents created in the period by status (every status, zero included).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn intents(
    state: &AppState,
    principal: &Principal,
    query: &PeriodQuery,
) -> Result<IntentReport, AppError> {
    principal.require(&REPORT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let period = query.resolve(&mut conn, principal).await?;
    let counts = db::reports::intent_counts(&mut conn, period.scope()).await?;
    Ok(IntentReport {
        data: intent_rows(&counts),
        period,
    })
}

fn intent_rows(counts: &[(String, i64)]) -> Vec<StatusCount> {
    STATUSES
        .iter()
        .map(|status| StatusCount {
            status: (*status).to_owned(),
            count: counts
                .iter()
                .filter(|(found, _)| found == status)
                .map(|(_, count)| *count)
                .sum(),
        })
        .collect()
}

/// How revenue is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Office,
    Sector,
    /// The channel as the ledger names it (khqr, cash, sandbox, a bank gateway, other).
    Channel,
    /// Extension: khqr, cash, bank (sandbox and every bank gateway) and other.
    ChannelGroup,
    Day,
    /// Extension: the Monday of each ISO week.
    Week,
    /// Extension: `YYYY-MM`.
    Month,
}

impl GroupBy {
    /// Parses `group_by` (400 for anything else).
    pub fn parse(raw: Option<&str>) -> Result<GroupBy, AppError> {
        Ok(match raw.unwrap_or("office") {
            "office" => GroupBy::Office,
            "sector" => GroupBy::Sector,
            "channel" => GroupBy::Channel,
            "channel_group" => GroupBy::ChannelGroup,
            "day" => GroupBy::Day,
            "week" => GroupBy::Week,
            "month" => GroupBy::Month,
            _ => {
                return Err(AppError::bad_request(
                    "group_by must be office, sector, channel, channel_group, day, week or month",
                )
                .with("parameter", "group_by"))
            }
        })
    }

    /// Parses the online share's `interval`: `day` (the default), `week` or `month` (400 for
    /// anything else).
    pub fn parse_interval(raw: Option<&str>) -> Result<GroupBy, AppError> {
        Ok(match raw.unwrap_or("day") {
            "day" => GroupBy::Day,
            "week" => GroupBy::Week,
            "month" => GroupBy::Month,
            _ => {
                return Err(AppError::bad_request("interval must be day, week or month")
                    .with("parameter", "interval"))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Office => "office",
            GroupBy::Sector => "sector",
            GroupBy::Channel => "channel",
            GroupBy::ChannelGroup => "channel_group",
            GroupBy::Day => "day",
            GroupBy::Week => "week",
            GroupBy::Month => "month",
        }
    }
}

/// Revenue of one key and currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevenueRow {
    /// Office code, sector code, channel, or date.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_km: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    /// Extension for `group_by=office`: the office's province (null for the national office).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<ProvinceView>,
    /// Payments (voided ones taken away); for `sector`, the payments with a line of it.
    pub count: i64,
    pub total: MoneyView,
    /// The total in minor units, for sorting and charts.
    #[serde(skip)]
    pub total_minor: i64,
}

/// A province as reports name it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvinceView {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
}

/// One currency's payments and revenue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    pub count: i64,
    pub total: MoneyView,
    #[serde(skip)]
    pub total_minor: i64,
}

/// The revenue report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevenueReport {
    pub data: Vec<RevenueRow>,
    pub currency_totals: Vec<CurrencyTotal>,
    /// Extension: the period and office the figures are for, and the grouping.
    pub period: Period,
    #[schema(example = "office")]
    pub group_by: String,
}

/// Revenue of the period grouped by `group_by`: one row per key and currency, sorted by
/// total descending for `office` (the ranking), by key otherwise.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn revenue(
    state: &AppState,
    principal: &Principal,
    query: &PeriodQuery,
    group_by: GroupBy,
) -> Result<RevenueReport, AppError> {
    principal.require(&REPORT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let period = query.resolve(&mut conn, principal).await?;
    revenue_in(&mut conn, period, group_by).await
}

async fn revenue_in(
    conn: &mut sqlx::PgConnection,
    period: Period,
    group_by: GroupBy,
) -> Result<RevenueReport, AppError> {
    let scope = period.scope();
    let sums = db::reports::revenue(conn, scope, group_by.as_str(), "none").await?;
    let counts = if group_by == GroupBy::Sector {
        db::reports::payments(conn, scope, "none", "none").await?
    } else {
        db::reports::payments(conn, scope, group_by.as_str(), "none").await?
    };
    assemble(conn, period, group_by, sums, counts).await
}

/// A revenue report from its sums and its payment counts (per key; for `sector`, per
/// currency only, as a payment counts once in the totals).
async fn assemble(
    conn: &mut sqlx::PgConnection,
    period: Period,
    group_by: GroupBy,
    sums: Vec<db::reports::RevenueSum>,
    payment_counts: Vec<db::reports::PaymentCount>,
) -> Result<RevenueReport, AppError> {
    // Counts per key: each payment once, except by sector (a payment of two sectors is in both).
    let counts: BTreeMap<(String, String), i64> = if group_by == GroupBy::Sector {
        sums.iter()
            .map(|sum| {
                (
                    (sum.key.clone(), sum.currency.clone()),
                    sum.sector_payment_count,
                )
            })
            .collect()
    } else {
        payment_counts
            .iter()
            .map(|count| ((count.key.clone(), count.currency.clone()), count.count))
            .collect()
    };
    let mut amounts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for sum in &sums {
        *amounts
            .entry((sum.key.clone(), sum.currency.clone()))
            .or_insert(0) += sum.amount_minor;
    }
    for key in counts.keys() {
        amounts.entry(key.clone()).or_insert(0);
    }
    let names = Names::load(conn, group_by).await?;
    let mut rows = Vec::with_capacity(amounts.len());
    for ((key, currency), total_minor) in amounts {
        let count = counts
            .get(&(key.clone(), currency.clone()))
            .copied()
            .unwrap_or(0);
        if count == 0 && total_minor == 0 {
            continue;
        }
        let (name_km, name_en, province) = names.of(&key);
        rows.push(RevenueRow {
            total: MoneyView::from_row(total_minor, &currency)?,
            key,
            name_km,
            name_en,
            province,
            count,
            total_minor,
        });
    }
    if group_by == GroupBy::Office {
        rows.sort_by(|a, b| {
            (&a.total.currency, std::cmp::Reverse(a.total_minor), &a.key).cmp(&(
                &b.total.currency,
                std::cmp::Reverse(b.total_minor),
                &b.key,
            ))
        });
    }
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let all_counts = if group_by == GroupBy::Sector {
        payment_counts
    } else {
        Vec::new()
    };
    for row in &rows {
        let total = totals.entry(row.total.currency.clone()).or_insert((0, 0));
        total.0 += if group_by == GroupBy::Sector {
            0
        } else {
            row.count
        };
        total.1 = total
            .1
            .checked_add(row.total_minor)
            .ok_or_else(|| AppError::internal("revenue total overflows"))?;
    }
    for count in all_counts {
        totals.entry(count.currency).or_insert((0, 0)).0 += count.count;
    }
    let currency_totals = totals
        .into_iter()
        .map(|(currency, (count, total_minor))| {
            Ok(CurrencyTotal {
                total: MoneyView::from_row(total_minor, &currency)?,
                currency,
                count,
                total_minor,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(RevenueReport {
        data: rows,
        currency_totals,
        period,
        group_by: group_by.as_str().to_owned(),
    })
}

/// Names of offices (with province) or sectors, for the keys of a report.
enum Names {
    Offices(BTreeMap<String, db::reports::OfficeName>),
    Sectors(BTreeMap<String, (String, String)>),
    None,
}

impl Names {
    async fn load(conn: &mut sqlx::PgConnection, group_by: GroupBy) -> Result<Names, AppError> {
        Ok(match group_by {
            GroupBy::Office => Names::Offices(
                db::reports::offices(conn)
                    .await?
                    .into_iter()
                    .map(|office| (office.code.clone(), office))
                    .collect(),
            ),
            GroupBy::Sector => Names::Sectors(
                db::reports::sectors(conn)
                    .await?
                    .into_iter()
                    .map(|(code, km, en)| (code, (km, en)))
                    .collect(),
            ),
            _ => Names::None,
        })
    }

    fn of(&self, key: &str) -> (Option<String>, Option<String>, Option<ProvinceView>) {
        match self {
            Names::Offices(offices) => match offices.get(key) {
                Some(office) => {
                    let province = match (
                        &office.province_code,
                        &office.province_km,
                        &office.province_en,
                    ) {
                        (Some(code), Some(km), Some(en)) => Some(ProvinceView {
                            code: code.clone(),
                            name_km: km.clone(),
                            name_en: en.clone(),
                        }),
                        _ => None,
                    };
                    (
                        Some(office.name_km.clone()),
                        Some(office.name_en.clone()),
                        province,
                    )
                }
                None => (None, None, None),
            },
            Names::Sectors(sectors) => match sectors.get(key) {
                Some((km, en)) => (Some(km.clone()), Some(en.clone()), None),
                None => (None, None, None),
            },
            Names::None => (None, None, None),
        }
    }
}

/// Payments of one day or week: all, in cash, and the rest (online: KHQR, banks, other).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShareRow {
    /// The day, or the Monday of the week.
    pub key: String,
    pub payments: i64,
    pub cash: i64,
    pub online: i64,
    /// Online payments per thousand payments (0 when there were none): 625 = 62.5 %.
    pub online_per_mille: i64,
}

/// The online-share report (extension).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShareReport {
    pub data: Vec<ShareRow>,
    pub period: Period,
    #[schema(example = "day")]
    pub interval: String,
}

/// Payments per `interval` (day, week or month) split into cash and online, all currencies
/// together.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn online_share(
    state: &AppState,
    principal: &Principal,
    query: &PeriodQuery,
    interval: GroupBy,
) -> Result<ShareReport, AppError> {
    principal.require(&REPORT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let period = query.resolve(&mut conn, principal).await?;
    share_in(&mut conn, period, interval).await
}

async fn share_in(
    conn: &mut sqlx::PgConnection,
    period: Period,
    interval: GroupBy,
) -> Result<ShareReport, AppError> {
    let counts =
        db::reports::payments(conn, period.scope(), interval.as_str(), "channel_group").await?;
    Ok(share_of(period, interval, counts))
}

fn share_of(
    period: Period,
    interval: GroupBy,
    counts: Vec<db::reports::PaymentCount>,
) -> ShareReport {
    let mut by_key: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for count in counts {
        let row = by_key.entry(count.key).or_insert((0, 0));
        row.0 += count.count;
        if count.key2 == "cash" {
            row.1 += count.count;
        }
    }
    let data = by_key
        .into_iter()
        .filter(|(_, (payments, _))| *payments != 0)
        .map(|(key, (payments, cash))| {
            let online = payments - cash;
            ShareRow {
                key,
                payments,
                cash,
                online,
                online_per_mille: per_mille(online, payments),
            }
        })
        .collect();
    ShareReport {
        data,
        period,
        interval: interval.as_str().to_owned(),
    }
}

/// `part` per thousand of `whole`, rounded half up; 0 for an empty whole.
pub fn per_mille(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    (part.saturating_mul(2000) + whole) / (whole * 2)
}

/// One bucket of the time-to-pay histogram.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LatencyBucket {
    /// Lower bound, in seconds.
    pub from_seconds: i64,
    /// Width, in seconds (the last bucket, 30 days and more, has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_seconds: Option<i64>,
    pub count: i64,
}

/// The time-to-pay report (extension).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LatencyReport {
    /// Intents paid in the period.
    pub paid: i64,
    /// The bucket holding the median: its lower bound and width (the resolution: 1 minute
    /// under an hour, 15 minutes under a day, 1 day under 30 days). Absent when none was paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_from_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_width_seconds: Option<i64>,
    pub buckets: Vec<LatencyBucket>,
    pub period: Period,
}

/// The width of the bucket starting at `from` (see `report_latency_bucket` in 0022).
pub fn bucket_width(from: i64) -> Option<i64> {
    match from {
        f if f < 3600 => Some(60),
        f if f < 86_400 => Some(900),
        f if f < 30 * 86_400 => Some(86_400),
        _ => None,
    }
}

/// Time from intent to paid of the intents paid in the period, with its median.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn time_to_pay(
    state: &AppState,
    principal: &Principal,
    query: &PeriodQuery,
) -> Result<LatencyReport, AppError> {
    principal.require(&REPORT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let period = query.resolve(&mut conn, principal).await?;
    latency_in(&mut conn, period).await
}

async fn latency_in(
    conn: &mut sqlx::PgConnection,
    period: Period,
) -> Result<LatencyReport, AppError> {
    let rows = db::reports::paid_latency(conn, period.scope()).await?;
    let buckets: Vec<LatencyBucket> = rows
        .into_iter()
        .map(|(from, count)| LatencyBucket {
            from_seconds: i64::from(from),
            width_seconds: bucket_width(i64::from(from)),
            count,
        })
        .collect();
    let paid: i64 = buckets.iter().map(|bucket| bucket.count).sum();
    let median = median_bucket(&buckets, paid);
    Ok(LatencyReport {
        paid,
        median_from_seconds: median.map(|bucket| bucket.from_seconds),
        median_width_seconds: median.and_then(|bucket| bucket.width_seconds),
        buckets,
        period,
    })
}

/// The bucket of the lower median (the ((n + 1) / 2)-th time).
pub fn median_bucket(buckets: &[LatencyBucket], paid: i64) -> Option<&LatencyBucket> {
    if paid <= 0 {
        return None;
    }
    let rank = (paid + 1) / 2;
    let mut seen = 0;
    buckets.iter().find(|bucket| {
        seen += bucket.count;
        seen >= rank
    })
}

/// Open exceptions of one age band.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgeRow {
    /// `0-1d`, `1-7d`, `7-30d` or `30d+`.
    pub age: String,
    pub count: i64,
}

/// The bands of [`AgeRow`], youngest first.
pub const AGES: [&str; 4] = ["0-1d", "1-7d", "7-30d", "30d+"];

/// The open-exceptions report (extension): now, whatever the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgeReport {
    pub data: Vec<AgeRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_code: Option<String>,
}

/// Open reconciliation exceptions by age, every band (zero included).
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn exceptions_by_age(
    state: &AppState,
    principal: &Principal,
    query: &PeriodQuery,
) -> Result<AgeReport, AppError> {
    principal.require(&REPORT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let period = query.resolve(&mut conn, principal).await?;
    ages_in(&mut conn, &period).await
}

async fn ages_in(conn: &mut sqlx::PgConnection, period: &Period) -> Result<AgeReport, AppError> {
    let rows = db::reports::open_exceptions_by_age(conn, period.offices.as_deref()).await?;
    Ok(AgeReport {
        data: AGES
            .iter()
            .map(|age| AgeRow {
                age: (*age).to_owned(),
                count: rows
                    .iter()
                    .filter(|(found, _)| found == age)
                    .map(|(_, count)| *count)
                    .sum(),
            })
            .collect(),
        office_code: period.office_code.clone(),
    })
}

/// The last chain verification, as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct LastVerification {
    pub ok: bool,
    pub finished_at: chrono::DateTime<Utc>,
    pub started_by: String,
}

/// An office the period form offers.
#[derive(Debug, Clone)]
pub struct OfficeChoice {
    pub code: String,
    pub name_km: String,
    pub name_en: String,
}

/// Everything the dashboard page shows, in one call.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub period: Period,
    pub intents: Vec<StatusCount>,
    /// The interval of the series (`by_day`, `share`): [`GroupBy::Day`], or
    /// [`GroupBy::Month`] for a period longer than [`DAY_SERIES_MAX_DAYS`].
    pub series: GroupBy,
    /// Revenue per day, or per month (`YYYY-MM`) as `series` says.
    pub by_day: RevenueReport,
    pub by_channel: RevenueReport,
    pub by_sector: RevenueReport,
    pub by_office: RevenueReport,
    pub share: ShareReport,
    pub latency: LatencyReport,
    pub exceptions: AgeReport,
    pub verification: Option<LastVerification>,
    /// The offices the caller may pick (empty for an office-scoped person with one office).
    pub offices: Vec<OfficeChoice>,
}

/// The dashboard of the caller's offices for the period.
#[tracing::instrument(skip_all, fields(api_key.id = %principal.key_id))]
pub async fn dashboard(
    state: &AppState,
    principal: &Principal,
    query: &PeriodQuery,
) -> Result<Dashboard, AppError> {
    principal.require(&REPORT_ROLES)?;
    let mut conn = state.pool.acquire().await?;
    let period = query.resolve(&mut conn, principal).await?;
    let counts = db::reports::intent_counts(&mut conn, period.scope()).await?;
    // One pass over the revenue rows and one over the payments for the four groupings (the
    // dashboard's time budget: each pass reads the period's roll-up rows once). A long
    // period's series are per month, so its whole months come from the monthly rows.
    let series = if period.days() > DAY_SERIES_MAX_DAYS {
        GroupBy::Month
    } else {
        GroupBy::Day
    };
    let by_month = series == GroupBy::Month;
    let sums = db::reports::revenue_sets(&mut conn, period.scope(), by_month).await?;
    let payments = db::reports::payment_sets(&mut conn, period.scope(), by_month).await?;
    let pick_sums = |set: &str| -> Vec<db::reports::RevenueSum> {
        sums.iter()
            .filter(|(name, _)| name == set)
            .map(|(_, sum)| sum.clone())
            .collect()
    };
    let pick_counts = |set: &str| -> Vec<db::reports::PaymentCount> {
        payments
            .iter()
            .filter(|(name, _)| name == set)
            .map(|(_, count)| count.clone())
            .collect()
    };
    let by_day = assemble(
        &mut conn,
        period.clone(),
        series,
        pick_sums("day"),
        pick_counts("day"),
    )
    .await?;
    let by_channel = assemble(
        &mut conn,
        period.clone(),
        GroupBy::ChannelGroup,
        pick_sums("channel_group"),
        pick_counts("channel_group"),
    )
    .await?;
    let by_sector = assemble(
        &mut conn,
        period.clone(),
        GroupBy::Sector,
        pick_sums("sector"),
        pick_counts("none"),
    )
    .await?;
    let by_office = assemble(
        &mut conn,
        period.clone(),
        GroupBy::Office,
        pick_sums("office"),
        pick_counts("office"),
    )
    .await?;
    let share = share_of(period.clone(), series, pick_counts("day_channel_group"));
    let latency = latency_in(&mut conn, period.clone()).await?;
    let exceptions = ages_in(&mut conn, &period).await?;
    let verification = db::verifications::latest_finished(&mut conn)
        .await?
        .and_then(|row| {
            Some(LastVerification {
                ok: row.ok?,
                finished_at: row.finished_at?,
                started_by: row.started_by,
            })
        });
    let offices = if principal.office_codes.len() == 1 {
        Vec::new()
    } else {
        db::reports::offices(&mut conn)
            .await?
            .into_iter()
            .filter(|office| principal.sees_office(&office.code))
            .map(|office| OfficeChoice {
                code: office.code,
                name_km: office.name_km,
                name_en: office.name_en,
            })
            .collect()
    };
    Ok(Dashboard {
        intents: intent_rows(&counts),
        period,
        series,
        by_day,
        by_channel,
        by_sector,
        by_office,
        share,
        latency,
        exceptions,
        verification,
        offices,
    })
}

// ---------------------------------------------------------------- CSV

fn csv_line(cells: &[&str]) -> String {
    let mut line = cells
        .iter()
        .map(|cell| {
            let cell = neutralise(cell);
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// The intents report as CSV: `status,count`.
pub fn intents_csv(report: &IntentReport) -> String {
    let mut out = csv_line(&["status", "count"]);
    for row in &report.data {
        out.push_str(&csv_line(&[&row.status, &row.count.to_string()]));
    }
    out
}

/// The revenue report as CSV: `key,name_km,name_en,province,count,amount,currency`.
pub fn revenue_csv(report: &RevenueReport) -> String {
    let mut out = csv_line(&[
        "key", "name_km", "name_en", "province", "count", "amount", "currency",
    ]);
    for row in &report.data {
        out.push_str(&csv_line(&[
            &row.key,
            row.name_km.as_deref().unwrap_or(""),
            row.name_en.as_deref().unwrap_or(""),
            row.province.as_ref().map_or("", |p| p.name_en.as_str()),
            &row.count.to_string(),
            &row.total.amount,
            &row.total.currency,
        ]));
    }
    out
}

/// The online share as CSV: `key,payments,cash,online,online_per_mille`.
pub fn share_csv(report: &ShareReport) -> String {
    let mut out = csv_line(&["key", "payments", "cash", "online", "online_per_mille"]);
    for row in &report.data {
        out.push_str(&csv_line(&[
            &row.key,
            &row.payments.to_string(),
            &row.cash.to_string(),
            &row.online.to_string(),
            &row.online_per_mille.to_string(),
        ]));
    }
    out
}

/// The time-to-pay histogram as CSV: `from_seconds,width_seconds,count`.
pub fn latency_csv(report: &LatencyReport) -> String {
    let mut out = csv_line(&["from_seconds", "width_seconds", "count"]);
    for row in &report.buckets {
        out.push_str(&csv_line(&[
            &row.from_seconds.to_string(),
            &row.width_seconds.map(|w| w.to_string()).unwrap_or_default(),
            &row.count.to_string(),
        ]));
    }
    out
}

/// Open exceptions by age as CSV: `age,count`.
pub fn ages_csv(report: &AgeReport) -> String {
    let mut out = csv_line(&["age", "count"]);
    for row in &report.data {
        out.push_str(&csv_line(&[&row.age, &row.count.to_string()]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_mille_rounds_half_up_and_survives_zero() {
        assert_eq!(per_mille(0, 0), 0);
        assert_eq!(per_mille(1, 3), 333);
        assert_eq!(per_mille(2, 3), 667);
        assert_eq!(per_mille(5, 8), 625);
        assert_eq!(per_mille(3, 3), 1000);
    }

    #[test]
    fn median_is_the_lower_middle_bucket() {
        let bucket = |from: i64, count: i64| LatencyBucket {
            from_seconds: from,
            width_seconds: bucket_width(from),
            count,
        };
        let buckets = [bucket(0, 1), bucket(60, 1), bucket(3600, 2)];
        assert_eq!(median_bucket(&buckets, 4).map(|b| b.from_seconds), Some(60));
        assert_eq!(
            median_bucket(&buckets[..1], 1).map(|b| b.from_seconds),
            Some(0)
        );
        assert!(median_bucket(&[], 0).is_none());
        assert_eq!(bucket_width(3600), Some(900));
        assert_eq!(bucket_width(30 * 86_400), None);
    }

    #[test]
    fn group_by_refuses_what_it_does_not_know() {
        assert!(GroupBy::parse(Some("province")).is_err());
        assert_eq!(GroupBy::parse(None).ok(), Some(GroupBy::Office));
        assert_eq!(GroupBy::parse(Some("week")).ok(), Some(GroupBy::Week));
    }

    #[test]
    fn csv_cells_are_quoted_and_neutralised() {
        assert_eq!(csv_line(&["a,b", "=1+1", "-5"]), "\"a,b\",'=1+1,-5\r\n");
    }
}
