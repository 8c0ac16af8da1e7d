//! What every page shares: embedded assets under content-hashed names, and the language.

use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrations = "../migrations")]
async fn assets_are_served_under_hashed_names_for_a_year(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let css_url = payments::http::web::assets::url("site.css");
    assert!(
        css_url.starts_with("/assets/site.") && css_url.ends_with(".css"),
        "{css_url}"
    );
    let response = app
        .http
        .get(format!("{}{css_url}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let css = response.text().await.unwrap();
    // The stylesheet links the fonts by their served names, and they answer too.
    let font = css
        .split("url(\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let response = app
        .http
        .get(format!("{}{font}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{font}");
    assert_eq!(response.headers()["content-type"], "font/woff2");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"wOF2"), "a WOFF2 file");
    assert!(
        bytes.len() < 40_000,
        "a Khmer subset, not the whole font: {}",
        bytes.len()
    );

    // The unhashed name, or a stale hash, is not served.
    for stale in ["/assets/site.css", "/assets/site.0000000000.css"] {
        let response = app
            .http
            .get(format!("{}{stale}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{stale}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_link_an_icon_and_favicon_ico_answers_it(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let icon_url = payments::http::web::assets::url("owso-icon.svg");
    let html = app
        .http
        .get(format!("{}/services?lang=en", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            r#"<link rel="icon" href="{icon_url}" type="image/svg+xml">"#
        )),
        "{html}"
    );
    // Browsers and Lighthouse ask for /favicon.ico whatever the page links: not a 404.
    let response = app
        .http
        .get(format!("{}/favicon.ico", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["cache-control"], "public, max-age=86400");
    let icon = app
        .http
        .get(format!("{}{icon_url}", app.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap(), icon);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_not_found_page_links_the_status_lookup_and_the_catalog(pool: PgPool) {
    let app = TestApp::start(pool).await;
    for (lang, words) in [("km", "ពិនិត្យស្ថានភាពការបង់ប្រាក់"), ("en", "Check a payment")]
    {
        let response = app
            .http
            .get(format!("{}/pay/pt_nothing_here?lang={lang}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        let html = response.text().await.unwrap();
        // A citizen who mistyped a link can still look their case up.
        assert!(
            html.contains(r#"<a href="/status" data-testid="not-found-status">"#),
            "{html}"
        );
        assert!(html.contains(words), "{lang}: {html}");
        assert!(html.contains(r#"<a href="/services">"#), "{html}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_travel_gzipped_to_browsers_that_ask(pool: PgPool) {
    let app = TestApp::start(pool).await;
    let plain = app
        .http
        .get(format!("{}/services?lang=en", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(
        plain.headers().get("content-encoding").is_none(),
        "not asked: not compressed"
    );
    let plain_bytes = plain.bytes().await.unwrap().len();

    let zipped = app
        .http
        .get(format!("{}/services?lang=en", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let zipped_bytes = zipped.bytes().await.unwrap();
    assert!(
        zipped_bytes.len() * 4 < plain_bytes,
        "the whole catalog page compresses: {} of {plain_bytes} bytes",
        zipped_bytes.len()
    );
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&zipped_bytes[..]),
        &mut text,
    )
    .unwrap();
    assert_eq!(text.len(), plain_bytes, "the same page");
}
