//! HTTP plumbing shared by the bank clients and the simulators' callback senders.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::AdapterError;

/// Connecting should take a fraction of a request's budget; a bank that cannot accept a TCP
/// connection in this time is down, and waiting longer only delays the retry.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle pooled connections are dropped after this, before most load balancers drop them
/// silently (which would make the next request fail).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Enough idle connections per bank for our request rate; the pool never grows past this.
const POOL_MAX_IDLE_PER_HOST: usize = 8;

/// Our bank answers are small JSON objects; anything larger is not one of them.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How much of an unexpected answer we keep for diagnosis.
const BODY_EXCERPT_CHARS: usize = 200;

/// How much of a decoder message we keep; serde messages can quote input.
const DECODE_MESSAGE_CHARS: usize = 200;

/// Builds an HTTP client with explicit connect and whole-request timeouts.
///
/// Redirects are not followed: no bank API we call redirects, so a redirect is an error to
/// report, not a hop to take with our credentials.
pub(crate) fn build_client(timeout: Duration) -> Result<reqwest::Client, AdapterError> {
    if timeout.is_zero() {
        return Err(AdapterError::InvalidInput(
            "the request timeout must be positive".to_owned(),
        ));
    }
    reqwest::Client::builder()
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .timeout(timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "owso-pay-bank-adapters/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(transport_error)
}

/// Appends path segments to a base URL, percent-encoding each one.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Result<Url, AdapterError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| AdapterError::InvalidInput("the base URL cannot hold a path".to_owned()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Classifies a reqwest error without its URL (which may carry a token in its query).
pub(crate) fn transport_error(error: reqwest::Error) -> AdapterError {
    if error.is_timeout() {
        return AdapterError::Timeout;
    }
    let error = error.without_url();
    // The top-level message ("error sending request") says little; the causes say why.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    AdapterError::Transport(message)
}

/// Turns a JSON decoding failure into an [`AdapterError::Decode`] of bounded length.
pub(crate) fn decode_error(error: &serde_json::Error) -> AdapterError {
    AdapterError::Decode(
        error
            .to_string()
            .chars()
            .take(DECODE_MESSAGE_CHARS)
            .collect(),
    )
}

/// Reads a bank's JSON answer, mapping non-success statuses to errors.
pub(crate) async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, AdapterError> {
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(AdapterError::Unauthorized);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Only the delta-seconds form; an HTTP date is rare from APIs and we would rather
        // fall back to our own backoff than guess a clock skew.
        let retry_after_s = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        return Err(AdapterError::RateLimited { retry_after_s });
    }
    let (body, complete) = read_limited(response).await?;
    if !status.is_success() {
        return Err(AdapterError::Status {
            status: status.as_u16(),
            body_excerpt: excerpt(&body),
        });
    }
    if !complete {
        return Err(AdapterError::Decode(format!(
            "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    serde_json::from_slice(&body).map_err(|error| decode_error(&error))
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of a body; the flag says whether it was all read.
async fn read_limited(mut response: reqwest::Response) -> Result<(Vec<u8>, bool), AdapterError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(chunk.get(..room).unwrap_or_default());
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// A short, printable start of a body for error messages.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(BODY_EXCERPT_CHARS)
        .collect()
}
