//! `OWSO_ENV`: the production profile refuses development settings at start; development
//! allows them and says so.

use anyhow::bail;
use url::Url;

use super::env::var;
use super::{Config, DEFAULT_SANDBOX_BAKONG_TOKEN, DEFAULT_SANDBOX_CALLBACK_SECRET};

/// `OWSO_ENV`: which safety checks apply at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Refuses the sandbox, development secrets and demo keys (the default).
    Production,
    /// Allows them, and says so loudly at start.
    Development,
}

impl Profile {
    /// The value of `OWSO_ENV` that selects this profile.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Production => "production",
            Profile::Development => "development",
        }
    }
}

pub(super) fn profile() -> anyhow::Result<Profile> {
    match var("OWSO_ENV").as_deref().map(str::trim) {
        None | Some("production") => Ok(Profile::Production),
        Some("development") => Ok(Profile::Development),
        Some(other) => bail!("OWSO_ENV must be production or development, got {other:?}"),
    }
}

/// The same origin (scheme, host, port): two URLs reach the same server.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Config {
    /// Why production must not start with this configuration: one line naming the variable,
    /// or `None`. Development allows everything (and [`Config::development_warning`] says so).
    /// The database half of the check (demo keys) is `app::seed::production_refusal_in_database`.
    pub fn production_refusal(&self) -> Option<String> {
        use secrecy::ExposeSecret as _;
        if self.profile != Profile::Production {
            return None;
        }
        let refuse = |detail: String| {
            Some(format!("refusing to start with OWSO_ENV=production: {detail} (set OWSO_ENV=development for a development stack)"))
        };
        if self.sandbox_enabled {
            return refuse("SANDBOX_ENABLED=true enables the sandbox bank".to_owned());
        }
        if self.sandbox_callback_secret_set
            && self.sandbox_callback_secret.expose_secret() == DEFAULT_SANDBOX_CALLBACK_SECRET
        {
            return refuse("SANDBOX_CALLBACK_SECRET is the public development default".to_owned());
        }
        if self.bakong_api_token.expose_secret() == DEFAULT_SANDBOX_BAKONG_TOKEN {
            return refuse("BAKONG_API_TOKEN is bank-sim's development token".to_owned());
        }
        if let Some(url) = &self.bakong_api_url {
            if same_origin(url, &self.bank_sim_url) || same_origin(url, &self.sandbox_api_url) {
                return refuse(format!(
                    "BAKONG_API_URL {url} is bank-sim (the origin of BANK_SIM_URL / SANDBOX_API_URL)"
                ));
            }
        }
        if self.ledger_signing_key.as_ref().is_some_and(|key| {
            key.expose_secret().trim()
                == crate::app::books::digests::development_signing_key_base64()
        }) {
            return refuse("LEDGER_SIGNING_KEY is the public development signing key".to_owned());
        }
        match &self.secrets_key {
            None => {
                return refuse("SECRETS_KEY is required (base64 of 32 random bytes)".to_owned())
            }
            Some(key) if key.expose_secret() == crate::app::secrets::DEVELOPMENT_KEY_BASE64 => {
                return refuse("SECRETS_KEY is the public development key".to_owned())
            }
            Some(_) => {}
        }
        None
    }

    /// The one loud line development logs at start; `None` in production.
    pub fn development_warning(&self) -> Option<&'static str> {
        (self.profile == Profile::Development).then_some(
            "OWSO_ENV=development: DEVELOPMENT PROFILE, NOT FOR REAL MONEY: the sandbox, development secrets, the public signing key and demo keys are all allowed",
        )
    }
}
