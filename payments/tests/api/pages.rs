//! What the console's page tests share: a client that posts forms as a browser does without
//! following redirects (each 303 is checked as it is), the page it reads back, and a demo
//! person logged in through the login form.

use payments::app::seed::DEMO_PASSWORD;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::support::TestApp;

/// One answer: status, headers and body.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    /// Where a redirect points ("" when it is not one).
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

/// A person logged in: the session cookie pair and the session's CSRF token.
pub struct Person {
    pub cookie: String,
    pub csrf: String,
}

/// A browser that does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `pairs` as a form body (application/x-www-form-urlencoded).
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub async fn read(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    Page {
        status,
        headers,
        html: response.text().await.unwrap(),
    }
}

/// The `name=value` pair of the session cookie a login answer sets.
pub fn cookie_pair(headers: &HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("owso_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The demo person `username` logged in through the login form (the seed's password), with
/// their session's CSRF token as the forms carry it.
pub async fn log_in(app: &TestApp, username: &str) -> Person {
    let page = read(
        browser()
            .post(format!("{}/console/login", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("username", username),
                ("password", DEMO_PASSWORD),
                ("next", "/console"),
            ]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let cookie = cookie_pair(&page.headers);
    let token = cookie.strip_prefix("owso_session=").unwrap().to_owned();
    let csrf: String = sqlx::query_scalar(
        "select csrf_token from staff_sessions where token_hash = sha256($1::bytea)",
    )
    .bind(token.as_bytes())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    Person { cookie, csrf }
}
