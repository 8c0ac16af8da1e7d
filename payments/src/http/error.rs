//! The one place that turns errors into RFC 9457 `application/problem+json` responses.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::app::error::AppError;

/// An RFC 9457 problem document. `code` is a stable, machine-readable identifier and part of the
/// public API; `type` is `/problems/{code}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extensions, e.g. the parameter that failed validation.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

/// Every error a handler can return. Client errors carry their detail; server errors keep the
/// cause for the log only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    Client {
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: String,
        extensions: Map<String, Value>,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError::Client {
            status,
            code,
            title,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// Adds an extension member to a client problem (ignored on internal errors).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        if let ApiError::Client { extensions, .. } = &mut self {
            extensions.insert(key.to_owned(), value.into());
        }
        self
    }

    pub fn validation(param: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Validation failed",
            detail,
        )
        .with("parameter", param)
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Bad request",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            format!("{what} not found"),
        )
    }

    pub fn invalid_state(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "Invalid state",
            detail,
        )
    }

    pub fn unprocessable(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, title, detail)
    }

    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Client { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The problem document as JSON, e.g. to store as an idempotent response.
    pub fn to_problem(&self) -> Problem {
        match self {
            ApiError::Client {
                status,
                code,
                title,
                detail,
                extensions,
            } => Problem {
                type_uri: format!("/problems/{code}"),
                title: (*title).to_owned(),
                status: status.as_u16(),
                detail: detail.clone(),
                code: (*code).to_owned(),
                instance: None,
                extensions: extensions.clone(),
            },
            ApiError::Internal(_) => Problem {
                type_uri: "/problems/internal_error".to_owned(),
                title: "Internal server error".to_owned(),
                status: 500,
                detail: "The server could not complete the request; it has been logged.".to_owned(),
                code: "internal_error".to_owned(),
                instance: None,
                extensions: Map::new(),
            },
        }
    }
}

/// Renders a problem document with its content type.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            // Logged once, here where it is handled; the client sees a generic body.
            tracing::error!(error.cause = %cause, "request failed with an internal error");
        }
        let mut response = problem_response(self.status(), &self.to_problem());
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(DATABASE_RETRY_AFTER_S),
            );
        }
        response
    }
}

/// Seconds a client is told to wait (`Retry-After`) when the database cannot be reached.
pub const DATABASE_RETRY_AFTER_S: u64 = 2;

impl ApiError {
    /// 503 `database_unavailable`: the database could not be reached or answered in time.
    pub fn database_unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "Database unavailable",
            "the database is unreachable or busy; retry shortly",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        let status = match &error {
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::BankUnavailable(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable => return ApiError::database_unavailable(),
            AppError::Internal(cause) => return ApiError::Internal(cause.clone()),
        };
        match error.into_refusal() {
            Some(refusal) => ApiError::Client {
                status,
                code: refusal.code,
                title: refusal.title,
                detail: refusal.detail,
                extensions: refusal.details,
            },
            // Unavailable and Internal returned above.
            None => ApiError::Internal(format!("unmapped error: {status}")),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::from(AppError::from(error))
    }
}

impl From<ledger::LedgerError> for ApiError {
    fn from(error: ledger::LedgerError) -> ApiError {
        ApiError::from(AppError::from(error))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
            _ => "malformed_json",
        };
        let title = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "Payload too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
            StatusCode::UNPROCESSABLE_ENTITY => "Validation failed",
            _ => "Malformed JSON",
        };
        ApiError::new(status, code, title, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        // A path that does not parse (e.g. not a UUID) names nothing that exists.
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            rejection.body_text(),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "Invalid query",
            rejection.body_text(),
        )
    }
}

impl From<ledger::MoneyError> for ApiError {
    fn from(error: ledger::MoneyError) -> ApiError {
        ApiError::from(AppError::from(error))
    }
}
