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
    /// One of the caller's offices (default: all of them).
    pub office_code: Option<String>,
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

fn range_params() -> Vec<utoipa::openapi::path::Parameter> {
    <RangeQuery as utoipa::IntoParams>::into_params(|| None)
}

fn text_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::Required;
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// A statement: its range, then a page (JSON) or the whole range (CSV).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    #[serde(deserialize_with = "dates::required_start")]
    pub from: DateTime<Utc>,
    #[serde(default, deserialize_with = "dates::end_inclusive")]
    pub to: Option<DateTime<Utc>>,
    /// Lines per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// `json` (default) or `csv` (the whole range, streamed; so does `Accept: text/csv`).
    pub format: Option<String>,
}

impl utoipa::IntoParams for StatementQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::Required;
        let mut params = range_params();
        params.push(
            ParameterBuilder::new()
                .name("limit")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some("Lines per page, 1 to 500 (default 50)."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(500)),
                ))
                .build(),
        );
        params.push(text_param(
            "cursor",
            "The `next_cursor` of the previous page.",
        ));
        params.push(text_param(
            "format",
            "`json` (default, one page) or `csv` (the whole range streamed; so does `Accept: text/csv`).",
        ));
        params
    }
}

/// A journal export: its range, the office and the format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalQuery {
    #[serde(deserialize_with = "dates::required_start")]
    pub from: DateTime<Utc>,
    #[serde(default, deserialize_with = "dates::end_inclusive")]
    pub to: Option<DateTime<Utc>>,
    /// One of the caller's offices (default: all of them).
    pub office_code: Option<String>,
    /// `csv` (default) or `xlsx`; `Accept` may ask for either instead.
    pub format: Option<String>,
}

impl utoipa::IntoParams for JournalQuery {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = range_params();
        params.push(text_param(
            "office_code",
            "One of the caller's offices (default: all of them).",
        ));
        params.push(text_param(
            "format",
            "`csv` (default) or `xlsx`; without it the `Accept` header chooses.",
        ));
        params
    }
}
