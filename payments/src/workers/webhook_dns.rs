//! The webhook client's DNS resolver: the system resolver, with the addresses a webhook may
//! not reach taken out at connect time.
//!
//! A webhook URL is checked when it is registered, but a host name can resolve to anything,
//! and to something else tomorrow (DNS rebinding). reqwest connects only to the addresses its
//! resolver hands it, so the refusal of link-local and cloud-metadata targets
//! (`app::webhooks::targets::refused_address`) is applied here, to every address of every lookup. A
//! name that resolves only to refused addresses fails the request with
//! [`RefusedDestination`], and nothing is connected to.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::app::webhooks::targets::{refused_address, refused_name};

/// A lookup refused because every address it gave (or the name itself) is one a webhook may
/// not reach.
#[derive(Debug, thiserror::Error)]
#[error("refused: {host} resolves only to link-local or cloud-metadata addresses (WEBHOOK_ALLOW_LINK_LOCAL)")]
pub struct RefusedDestination {
    pub host: String,
}

/// Resolves through the system resolver and drops refused addresses, unless
/// `WEBHOOK_ALLOW_LINK_LOCAL` allows them.
#[derive(Clone, Debug, Default)]
pub struct FilteringResolver {
    allow_link_local: bool,
    /// Names answered without asking the system (tests), filtered all the same.
    fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl FilteringResolver {
    pub fn new(allow_link_local: bool) -> FilteringResolver {
        FilteringResolver {
            allow_link_local,
            fixed: Arc::default(),
        }
    }

    /// Answers `name` with `addresses` instead of asking the system resolver.
    pub fn with_fixed(mut self, name: &str, addresses: Vec<IpAddr>) -> FilteringResolver {
        Arc::make_mut(&mut self.fixed).insert(name.to_ascii_lowercase(), addresses);
        self
    }

    /// The addresses of `host` a webhook may connect to; an error when there are none left.
    pub async fn lookup(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let refused = || RefusedDestination {
            host: host.chars().take(255).collect(),
        };
        if !self.allow_link_local && refused_name(host) {
            return Err(Box::new(refused()));
        }
        let found: Vec<SocketAddr> = match self.fixed.get(&host.to_ascii_lowercase()) {
            Some(addresses) => addresses.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
            // Port 0: reqwest puts the URL's port in.
            None => tokio::net::lookup_host((host, 0)).await?.collect(),
        };
        if self.allow_link_local {
            return Ok(found);
        }
        let total = found.len();
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|address| !refused_address(address.ip()))
            .collect();
        if allowed.len() < total {
            metrics::counter!("owso_webhook_refused_addresses_total")
                .increment(u64::try_from(total - allowed.len()).unwrap_or(0));
            tracing::warn!(
                host = %host,
                refused = total - allowed.len(),
                "a webhook host resolved to link-local or metadata addresses; not connecting to them"
            );
        }
        if allowed.is_empty() && total > 0 {
            return Err(Box::new(refused()));
        }
        Ok(allowed)
    }
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addresses = resolver.lookup(name.as_str()).await?;
            let addrs: Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

/// The refusal behind a failed request, if the resolver refused its host.
pub fn refusal<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e RefusedDestination> {
    let mut cause: Option<&'e (dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if let Some(refused) = error.downcast_ref::<RefusedDestination>() {
            return Some(refused);
        }
        cause = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn refused_addresses_are_dropped_and_a_name_with_only_those_fails() {
        let resolver = FilteringResolver::new(false)
            .with_fixed(
                "mixed.test",
                vec![
                    ip("169.254.169.254"),
                    ip("127.0.0.1"),
                    ip("::ffff:a9fe:a9fe"),
                ],
            )
            .with_fixed(
                "metadata-only.test",
                vec![
                    ip("169.254.169.254"),
                    ip("fd00:ec2::254"),
                    ip("64:ff9b::a9fe:a9fe"),
                ],
            );
        let mixed = resolver.lookup("mixed.test").await.unwrap();
        assert_eq!(mixed, vec![SocketAddr::new(ip("127.0.0.1"), 0)]);
        let error = resolver.lookup("metadata-only.test").await.unwrap_err();
        assert!(refusal(error.as_ref()).is_some(), "{error}");
        assert!(error.to_string().contains("refused"), "{error}");
        let error = resolver
            .lookup("Metadata.Google.Internal.")
            .await
            .unwrap_err();
        assert!(refusal(error.as_ref()).is_some(), "{error}");
    }

    #[tokio::test]
    async fn the_system_resolver_answers_other_names() {
        let resolver = FilteringResolver::new(false);
        let localhost = resolver.lookup("localhost").await.unwrap();
        assert!(!localhost.is_empty());
        assert!(localhost.iter().all(|address| address.ip().is_loopback()));
    }

    #[tokio::test]
    async fn allowed_link_local_passes_through() {
        let resolver = FilteringResolver::new(true)
            .with_fixed("metadata-only.test", vec![ip("169.254.169.254")]);
        assert_eq!(
            resolver.lookup("metadata-only.test").await.unwrap(),
            vec![SocketAddr::new(ip("169.254.169.254"), 0)]
        );
    }
}
