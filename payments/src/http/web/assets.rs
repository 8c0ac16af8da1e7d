//! The pages' static files, embedded in the binary and served under content-hashed names
//! (`/assets/site.1a2b3c4d5e.css`): a new build changes the name, so browsers may keep each
//! file for a year and never see a stale one.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// The name templates ask for (`site.css`).
    pub name: &'static str,
    /// The name it is served under (`site.1a2b3c4d5e.css`).
    pub served: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

const FONT_REGULAR: &[u8] = include_bytes!("../../../assets/fonts/noto-sans-khmer-regular.woff2");
const FONT_BOLD: &[u8] = include_bytes!("../../../assets/fonts/noto-sans-khmer-bold.woff2");
const SITE_CSS: &str = include_str!("../../../assets/site.css");

fn hashed(name: &'static str, content_type: &'static str, bytes: Vec<u8>) -> Asset {
    let digest = Sha256::digest(&bytes);
    let short: String = digest
        .iter()
        .take(5)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let served = match name.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{short}.{extension}"),
        None => format!("{name}.{short}"),
    };
    Asset {
        name,
        served,
        content_type,
        bytes,
    }
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let regular = hashed("khmer-regular.woff2", "font/woff2", FONT_REGULAR.to_vec());
    let bold = hashed("khmer-bold.woff2", "font/woff2", FONT_BOLD.to_vec());
    // The stylesheet names the fonts by their served names, so it is hashed after them.
    let css = SITE_CSS
        .replace("{{font_regular}}", &regular.served)
        .replace("{{font_bold}}", &bold.served);
    let mut assets = vec![regular, bold];
    assets.push(hashed(
        "site.css",
        "text/css; charset=utf-8",
        css.into_bytes(),
    ));
    for (name, content_type, bytes) in SCRIPTS {
        assets.push(hashed(name, content_type, bytes.to_vec()));
    }
    assets
});

/// Scripts for progressive enhancement: each page works without them.
const SCRIPTS: &[(&str, &str, &[u8])] = &[
    // The receipt's print button (shown only when script runs).
    (
        "print.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/print.js"),
    ),
    // The proofs page reloads itself while a chain verification runs.
    (
        "proofs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/proofs.js"),
    ),
    (
        "pay.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/pay.js"),
    ),
    // The icon a bank app shows for us when it opens a KHQR from the pay page's deep link.
    (
        "owso-icon.svg",
        "image/svg+xml",
        include_bytes!("../../../assets/owso-icon.svg"),
    ),
];

/// The URL of an embedded file by the name templates use; an unknown name is a programming
/// error that the page tests catch (the link answers 404).
pub fn url(name: &str) -> String {
    ASSETS.iter().find(|asset| asset.name == name).map_or_else(
        || format!("/assets/{name}"),
        |asset| format!("/assets/{}", asset.served),
    )
}

/// `GET /assets/{file}`: only served names answer, with a year of caching.
#[utoipa::path(get, path = "/assets/{file}", tag = "pages",
    params(("file" = String, Path, description = "A content-hashed file name, as the pages link it")),
    responses((status = 200, description = "The file (stylesheet, script or font)"), (status = 404, description = "No such file")))]
pub async fn get_asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.served == file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes.clone(),
        )
            .into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /favicon.ico`: browsers (and crawlers, and Lighthouse) ask for it whatever the page
/// links, and a 404 there is logged as an error. The pages link the hashed SVG icon; this
/// answers the same bytes directly rather than redirecting, since a cached redirect would
/// outlive the hashed name of the next build. A day of caching: the name never changes.
#[utoipa::path(get, path = "/favicon.ico", tag = "pages",
    responses((status = 200, description = "The service's icon (SVG)", content_type = "image/svg+xml")))]
pub async fn get_favicon() -> Response {
    match ASSETS.iter().find(|asset| asset.name == "owso-icon.svg") {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes.clone(),
        )
            .into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn the_stylesheet_names_the_fonts_by_their_served_names() {
        let css = ASSETS
            .iter()
            .find(|asset| asset.name == "site.css")
            .unwrap();
        let text = String::from_utf8(css.bytes.clone()).unwrap();
        assert!(!text.contains("{{"), "a placeholder is left");
        for font in ["khmer-regular.woff2", "khmer-bold.woff2"] {
            let served = &ASSETS
                .iter()
                .find(|asset| asset.name == font)
                .unwrap()
                .served;
            assert!(text.contains(served.as_str()), "{font} as {served}");
        }
        assert!(url("site.css").starts_with("/assets/site.") && url("site.css").ends_with(".css"));
    }
}
