//! The page's language: Khmer unless the person chose English. `?lang=en` (or `?lang=km`)
//! chooses, and a session cookie keeps the choice for the next pages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};

use super::assets;

/// The two languages of every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Km,
    En,
}

impl Lang {
    /// The BCP 47 code for `lang=` attributes.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Km => "km",
            Lang::En => "en",
        }
    }

    /// The other language (for the switch link).
    pub fn other(self) -> Lang {
        match self {
            Lang::Km => Lang::En,
            Lang::En => Lang::Km,
        }
    }

    /// The language's own name, as its readers write it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Km => "ខ្មែរ",
            Lang::En => "English",
        }
    }

    /// The text of this language out of a Khmer/English pair.
    pub fn pick<'a>(self, km: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Km => km,
            Lang::En => en,
        }
    }

    fn parse(text: &str) -> Option<Lang> {
        match text {
            "km" => Some(Lang::Km),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

const COOKIE: &str = "owso_lang";

/// What every page needs to know about the request: the language, whether it was just chosen
/// (then the response sets the cookie), and the link that switches it.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub lang: Lang,
    chosen: bool,
    /// The same page in the other language.
    pub switch_href: String,
}

impl PageRequest {
    /// The URL of an embedded asset (`site.css` → `/assets/site.<hash>.css`).
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    /// The `Set-Cookie` that keeps a language chosen by `?lang=` for the session.
    pub fn cookie(&self) -> Option<HeaderValue> {
        if !self.chosen {
            return None;
        }
        HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; SameSite=Lax; HttpOnly",
            self.lang.code()
        ))
        .ok()
    }

    fn from_parts(parts: &Parts) -> PageRequest {
        let asked = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("lang="))
                .and_then(Lang::parse)
        });
        let remembered = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("owso_lang="))
            .and_then(Lang::parse);
        let lang = asked.or(remembered).unwrap_or(Lang::Km);
        // Other query parameters (a search, a code) are kept; only `lang` changes.
        let mut kept: Vec<&str> = parts
            .uri
            .query()
            .map(|query| {
                query
                    .split('&')
                    .filter(|pair| !pair.is_empty() && !pair.starts_with("lang="))
                    .collect()
            })
            .unwrap_or_default();
        let other = format!("lang={}", lang.other().code());
        kept.push(&other);
        PageRequest {
            lang,
            chosen: asked.is_some(),
            switch_href: format!("{}?{}", parts.uri.path(), kept.join("&")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
impl PageRequest {
    /// The page request of a GET of `uri` without cookies (unit tests of pages).
    pub(crate) fn for_uri(uri: &str) -> PageRequest {
        let request = axum::http::Request::builder().uri(uri).body(());
        match request {
            Ok(request) => PageRequest::from_parts(&request.into_parts().0),
            Err(error) => panic!("test URI {uri}: {error}"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PageRequest::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn page(uri: &str, cookie: Option<&str>) -> PageRequest {
        let mut request = axum::http::Request::builder().uri(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let (parts, ()) = request.body(()).unwrap().into_parts();
        PageRequest::from_parts(&parts)
    }

    #[test]
    fn khmer_unless_chosen_and_the_choice_is_remembered() {
        assert_eq!(page("/pay/x", None).lang, Lang::Km);
        let chosen = page("/pay/x?lang=en", None);
        assert_eq!(chosen.lang, Lang::En);
        assert!(chosen.cookie().is_some());
        let later = page("/pay/x", Some("a=b; owso_lang=en"));
        assert_eq!(later.lang, Lang::En);
        assert!(later.cookie().is_none(), "set once, when chosen");
        assert_eq!(page("/pay/x?lang=xx", None).lang, Lang::Km);
    }

    #[test]
    fn the_switch_link_keeps_the_other_parameters() {
        assert_eq!(
            page("/services?q=car&lang=en", None).switch_href,
            "/services?q=car&lang=km"
        );
        assert_eq!(page("/status", None).switch_href, "/status?lang=en");
    }
}
