//! Verification runs and the digest bundle (issue 16, the proofs): `POST
//! /v1/ledger/verifications` starts a run (or shows the one running), `GET
//! /v1/ledger/verifications/{id}` reads its progress and result, `GET
//! /v1/ledger/digests/bundle` downloads what an outside auditor checks without the service.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::views::VerifyView;
use crate::app::auth::Principal;
use crate::app::books::proofs::{self, Run};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::AppPath;
use crate::state::AppState;

/// The routes of this module (merged into the ledger's).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ledger/verifications", post(start_verification))
        .route("/v1/ledger/verifications/{id}", get(get_verification))
        .route("/v1/ledger/digests/bundle", get(get_digest_bundle))
}

/// One verification run.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationRunView {
    pub id: Uuid,
    /// `running`, `finished` (see `ok` and `result`) or `failed` (the run itself broke; `error`).
    #[schema(example = "running")]
    pub status: String,
    /// Who started it: a person's name or `key:<id>`.
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// Entries checked so far (written every few thousand).
    pub entries_checked: i64,
    /// The chain's length when the run began.
    pub entries_total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The verify report, as `GET /v1/ledger/verify` answers it, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<VerifyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<Run> for VerificationRunView {
    fn from(run: Run) -> VerificationRunView {
        let row = run.row;
        VerificationRunView {
            id: row.id,
            status: row.status,
            started_by: row.started_by,
            started_at: row.started_at,
            entries_checked: row.entries_checked,
            entries_total: row.entries_total,
            finished_at: row.finished_at,
            ok: row.ok,
            result: run.report.map(Into::into),
            error: row.error,
        }
    }
}

#[utoipa::path(post, path = "/v1/ledger/verifications", tag = "ledger", security(("bearer" = [])),
    responses((status = 202, body = VerificationRunView, description = "Started now, or the run already in progress (one at a time); poll its `Location`"),
        (status = 403, body = Problem)))]
pub async fn start_verification(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let started = proofs::start(&state, &principal).await?;
    let location = format!("/v1/ledger/verifications/{}", started.run.row.id);
    let view: VerificationRunView = started.run.into();
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/ledger/verifications/{id}", tag = "ledger", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The run")),
    responses((status = 200, body = VerificationRunView), (status = 404, body = Problem)))]
pub async fn get_verification(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<VerificationRunView>, ApiError> {
    Ok(Json(proofs::get(&state, &principal, id).await?.into()))
}

#[utoipa::path(get, path = "/v1/ledger/digests/bundle", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, description = "A .tar.gz: every signed daily digest (payload, signature, named key), the configured public keys and verify.py (Python 3, standard library only), for an auditor to check without the service", content_type = "application/gzip"),
        (status = 403, body = Problem)))]
pub async fn get_digest_bundle(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let (name, bytes) = proofs::digest_bundle(&state, &principal).await?;
    Ok(bundle_response(&name, bytes))
}

/// The bundle as a download (also the console's).
pub fn bundle_response(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}
