//! Name resolution for the guard: the [`Resolver`] seam (tests answer with fixed
//! addresses) and the system resolver. Guests never resolve names themselves.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use futures::future::BoxFuture;

/// Resolves host names to addresses. Guests never resolve names themselves.
pub trait Resolver: Send + Sync + 'static {
    /// All addresses `host` resolves to.
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The system resolver, with fixed answers for some names first (like curl's
/// `--resolve`). Overridden answers are still checked like any other.
#[derive(Debug, Default, Clone)]
pub struct SystemResolver {
    overrides: HashMap<String, Vec<IpAddr>>,
}

impl SystemResolver {
    /// A resolver answering `overrides` itself and asking the system for the rest.
    /// Names are matched case-insensitively, without a trailing dot.
    pub fn with_overrides(overrides: impl IntoIterator<Item = (String, IpAddr)>) -> Self {
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in overrides {
            map.entry(normalise_name(&name)).or_default().push(ip);
        }
        SystemResolver { overrides: map }
    }
}

pub(crate) fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            if let Some(ips) = self.overrides.get(&normalise_name(host)) {
                return Ok(ips.clone());
            }
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        })
    }
}
