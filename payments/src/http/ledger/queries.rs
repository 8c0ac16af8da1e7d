//! The query strings and bodies of the ledger routes.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::books::exceptions::ExceptionFilter;
use crate::app::dates;
use crate::app::states::ExceptionStatus;
use crate::app::validation::text_enum;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePeriodRequest {
    pub office_code: String,
    /// `YYYY-MM`, a Cambodian calendar month that is over.
    #[schema(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-10")]
    pub month: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BalanceQuery {
    /// Default: now.
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Start, exclusive: the opening balance is the balance at this instant. A date
    /// (`2026-12-06`) is the start of that day in UTC+7.
    #[serde(deserialize_with = "dates::required_start")]
    pub from: DateTime<Utc>,
    /// End, inclusive (default: now). A date is the end of that day in UTC+7 (inclusive).
    #[serde(default, deserialize_with = "dates::end_inclusive")]
    pub to: Option<DateTime<Utc>>,
}

/// Written by hand: the derive drops `required` from a parameter whose schema is given by a
/// function, and `from` is required.
impl utoipa::IntoParams for RangeQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::Required;
        let parameter = |name: &str, required: Required, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(required)
                .description(Some(description))
                .schema(Some(dates::schema()))
                .build()
        };
        vec![
            parameter(
                "from",
                Required::True,
                "Start, exclusive: the opening balance is the balance at this instant. A date is the start of that day in UTC+7.",
            ),
            parameter(
                "to",
                Required::False,
                "End, inclusive (default: now). A date is the end of that day in UTC+7 (inclusive).",
            ),
        ]
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DigestsQuery {
    /// 1 to 366 (default 31).
    #[param(minimum = 1, maximum = 366)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExceptionsQuery {
    pub office_code: Option<String>,
    // Text here, parsed by the use case after the caller's role: a bad value is a 422 naming
    // `status`, and a caller without the role still gets the 403 first.
    #[param(schema_with = exception_status_schema)]
    pub status: Option<String>,
    /// An exception kind, such as `amount_mismatch` or `unmatched_statement_line`.
    pub kind: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn exception_status_schema() -> utoipa::openapi::Object {
    text_enum(&[
        ExceptionStatus::Open.as_str(),
        ExceptionStatus::Resolved.as_str(),
    ])
}

impl From<ExceptionsQuery> for ExceptionFilter {
    fn from(query: ExceptionsQuery) -> ExceptionFilter {
        ExceptionFilter {
            office_code: query.office_code,
            status: query.status,
            kind: query.kind,
            oldest_first: false,
            limit: query.limit,
            cursor: query.cursor,
        }
    }
}
