//! One guest's policy and its two checks: per request (`check`) and per resolved address (`check_address`).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::AddressClass;
use crate::addr::{canonical_ip, classify};
use crate::bus::BusRule;
use crate::decision::{Decision, Denial, DenialDetail, RuleList, RuleRef};
use crate::host::{Host, HostPattern};
use crate::limits::Limits;
use crate::path::PathPattern;
use crate::pin::Pin;
use crate::program::Program;
use crate::rule::Rule;
use crate::scheme::Scheme;
use crate::secret::SecretHeader;
use crate::target::Target;

/// The policy of one guest (`[guest.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPolicy {
    /// The guest's name (`default` for a file without `[guest.*]` tables).
    pub name: String,
    /// The policy file name, for messages.
    pub source: String,
    /// Allow rules, in file order.
    pub allow: Vec<Rule>,
    /// Deny rules, in file order. A matching deny rule always wins.
    pub deny: Vec<Rule>,
    /// Bus allow rules (`bus://`, `bus-publish://`, `bus-subscribe://`), in file order.
    pub bus_allow: Vec<BusRule>,
    /// Bus deny rules, in file order. A matching deny rule always wins.
    pub bus_deny: Vec<BusRule>,
    /// Resource limits.
    pub limits: Limits,
    /// The only environment variables the guest sees (`env = { NAME = "value" }`), in file order.
    pub env: Vec<(String, String)>,
    /// Extra CA certificates (PEM) to trust (`ca_bundle`), relative to the policy
    /// file's directory when read with [`Policy::from_file`](crate::Policy::from_file).
    pub ca_bundle: Option<PathBuf>,
    /// The line `ca_bundle` is set on (0 when unset), for messages about the bundle.
    pub ca_bundle_line: u32,
    /// How much of a denial the guest sees (`denial_detail`); see [`GuestPolicy::guest_denial`].
    pub denial_detail: DenialDetail,
    /// `cache`: bytes of the guest's private in-memory HTTP cache (`"memory"`
    /// is [`DEFAULT_CACHE_BYTES`]); `None`: no cache (the default).
    pub cache: Option<u64>,
    /// `limits_wait`: whether an HTTP request waits (within its timeout) for
    /// `requests_per_second` and `max_connections` (`true`, the default) or
    /// fails at once with `limit-exceeded` (`false`).
    pub limits_wait: bool,
    /// What `sandnet up` runs for this guest (`component`, `args`, `restart`,
    /// `instances`); `None` when the table names no component.
    pub program: Option<Program>,
}

pub(crate) fn rule_ref(rule: &Rule, list: RuleList) -> RuleRef {
    RuleRef {
        line: rule.line,
        text: rule.text.clone(),
        list,
    }
}

/// Size of the HTTP cache `cache = "memory"` gives a guest: 16 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

impl GuestPolicy {
    /// A guest with no rules (everything denied) and default limits.
    pub fn new(name: &str, source: &str) -> GuestPolicy {
        GuestPolicy {
            name: name.to_string(),
            source: source.to_string(),
            allow: Vec::new(),
            deny: Vec::new(),
            bus_allow: Vec::new(),
            bus_deny: Vec::new(),
            limits: Limits::default(),
            env: Vec::new(),
            ca_bundle: None,
            ca_bundle_line: 0,
            denial_detail: DenialDetail::Full,
            cache: None,
            limits_wait: true,
            program: None,
        }
    }

    /// `denial` (of a check of `target`) as this guest may see it, at its
    /// [`denial_detail`](GuestPolicy::denial_detail): see [`Denial::for_guest`].
    /// Log the original for the operator; return this one to the guest.
    pub fn guest_denial(&self, denial: &Denial, target: &Target) -> Denial {
        denial.for_guest(self.denial_detail, target)
    }

    /// The allow rule [`GuestPolicy::check`] allows `target` by, for what it
    /// attaches to the connection (secret headers, pins); `None` when denied.
    pub fn allowing_rule(&self, target: &Target) -> Option<&Rule> {
        if self.deny.iter().any(|r| r.catches(target)) {
            return None;
        }
        self.allow.iter().find(|r| r.allows(target))
    }

    /// The pin sets a TLS connection to `host` must satisfy: one per allow
    /// rule with `pins` whose host pattern matches `host`, whatever its scheme,
    /// port or path (a connection carries every request to its host, so pins
    /// belong to the host). The chain must hold a pin of every set.
    pub fn pins_for_host(&self, host: &Host) -> Vec<(&Rule, &[Pin])> {
        self.allow
            .iter()
            .filter(|r| !r.pins.is_empty() && r.host.matches(host))
            .map(|r| (r, r.pins.as_slice()))
            .collect()
    }

    /// Every secret header the guest's allow rules inject, in file order.
    pub fn secret_headers(&self) -> impl Iterator<Item = &SecretHeader> {
        self.allow.iter().flat_map(|r| &r.secrets)
    }

    /// Request-level decision on scheme, host, port, path and method.
    ///
    /// A deny rule matching any reading of the path wins; otherwise the first
    /// allow rule matching every reading allows; otherwise the denial carries the
    /// narrowest rule that would allow exactly this target.
    pub fn check(&self, target: &Target) -> Decision {
        if let Some(rule) = self.deny.iter().find(|r| r.catches(target)) {
            return self.denied_by(rule, target.describe());
        }
        if let Some(rule) = self.allow.iter().find(|r| r.allows(target)) {
            return Decision::Allow(rule_ref(rule, RuleList::Allow));
        }
        let for_url = self.allow.iter().find(|r| r.allows_url(target));
        let mut reason = format!(
            "no allow rule of guest \"{}\" in {} matches {}",
            self.name,
            self.source,
            target.describe()
        );
        if let Some(rule) = for_url
            && let Some(methods) = &rule.methods
        {
            reason.push_str(&format!(
                " (the rule at line {} allows only {})",
                rule.line,
                methods.join(", ")
            ));
        }
        let method = for_url
            .filter(|_| target.scheme.takes_methods())
            .map(|_| target.effective_method());
        let path = target.path.replace('*', "%2A");
        let path = target.scheme.has_path().then_some(path.as_str());
        Decision::Deny(Denial {
            reason,
            suggestion: Some(quote(&rule_text(
                method,
                target.scheme,
                &target.host,
                target.port,
                path,
            ))),
            rule: None,
        })
    }

    /// Address-level decision for one resolved address `ip` of `target` (whose
    /// host is the name or IP literal the guest used). Path and method are
    /// ignored: a connection carries many requests, each checked by
    /// [`GuestPolicy::check`].
    ///
    /// Deny: a deny rule without path or method that matches the endpoint, or
    /// (for a name target) any deny rule naming `ip` whatever its path or
    /// method, since requests by name on that connection cannot be told apart.
    /// A deny rule naming an IPv4 address also names the IPv6 forms embedding
    /// it (see [`embedded_ipv4`](crate::embedded_ipv4)).
    ///
    /// Allow: a public address by the first allow rule for the endpoint. A
    /// non-public address only when the grant covers every request the
    /// connection can carry, which is every request ANY endpoint rule admits
    /// (a pooled connection for an origin is reused for all of them): an
    /// endpoint rule with no path and no method grants it, or every endpoint
    /// rule grants it (or admits exactly the requests of a rule that does), or
    /// an allow rule with no path and no method names it (IP or CIDR host) for
    /// this scheme and port. A rule grants the address through its
    /// `addresses` (or both hosts `localhost` for loopback) for a name target,
    /// and by naming it (IP or CIDR host) for an IP-literal target. Otherwise a
    /// broader rule (`http://*:*`) could carry, on the same connection,
    /// requests the path- or method-limited granting rule never meant for the
    /// non-public address.
    pub fn check_address(&self, target: &Target, ip: IpAddr) -> Decision {
        let ip = canonical_ip(ip);
        let origin = target.origin();
        let by_name = matches!(target.host, Host::Name(_));
        let class = classify(ip);
        if let Some(rule) = self.deny.iter().find(|r| {
            r.catches_address(target, ip)
                || (by_name
                    && r.scheme.covers(target.scheme)
                    && r.ports.matches(target.port)
                    && r.host.names_ip(ip))
        }) {
            let what = if by_name {
                format!("{origin} resolved to {ip} ({class}), which")
            } else {
                format!("{origin} at {ip}")
            };
            return self.denied_by(rule, what);
        }
        let endpoint: Vec<&Rule> = self
            .allow
            .iter()
            .filter(|r| r.matches_endpoint(target))
            .collect();
        let Some(first) = endpoint.first() else {
            let path = target.path.replace('*', "%2A");
            let path = (target.scheme.has_path() && !path.is_empty()).then_some(path.as_str());
            return Decision::Deny(Denial {
                reason: format!(
                    "no allow rule of guest \"{}\" in {} matches {origin}",
                    self.name, self.source
                ),
                suggestion: Some(quote(&rule_text(
                    None,
                    target.scheme,
                    &target.host,
                    target.port,
                    path,
                ))),
                rule: None,
            });
        };
        if class == AddressClass::Public {
            return Decision::Allow(rule_ref(first, RuleList::Allow));
        }
        let localhost = Host::Name("localhost".into());
        let rule_grants = |r: &Rule| {
            if by_name {
                r.allowance_grants(ip)
                    || (target.host == localhost
                        && ip.is_loopback()
                        && r.host == HostPattern::Exact("localhost".into()))
            } else {
                r.host.grants_ip(ip)
            }
        };
        let unrestricted = |r: &Rule| r.methods.is_none() && r.path == PathPattern::Any;
        // A rule that does not grant the address is harmless when a granting
        // rule admits exactly the same requests.
        let covered = |r: &Rule| {
            rule_grants(r)
                || endpoint
                    .iter()
                    .any(|g| rule_grants(g) && g.methods == r.methods && g.path == r.path)
        };
        let ip_rule = || {
            self.allow.iter().find(|r| {
                r.scheme.covers(target.scheme)
                    && r.admits_port(target.port)
                    && r.host.grants_ip(ip)
                    && unrestricted(r)
            })
        };
        let granted = endpoint
            .iter()
            .copied()
            .find(|r| rule_grants(r) && unrestricted(r))
            .or_else(|| {
                endpoint.iter().all(|r| covered(r)).then(|| {
                    if by_name {
                        *first
                    } else {
                        endpoint
                            .iter()
                            .copied()
                            .find(|r| rule_grants(r))
                            .unwrap_or(first)
                    }
                })
            })
            .or_else(ip_rule);
        if let Some(rule) = granted {
            return Decision::Allow(rule_ref(rule, RuleList::Allow));
        }
        if let Some(granting) = endpoint.iter().find(|r| rule_grants(r)) {
            let others: Vec<String> = endpoint
                .iter()
                .filter(|r| !covered(r))
                .map(|r| format!("{} (\"{}\")", r.line, r.text))
                .collect();
            let reason = if by_name {
                format!(
                    "{origin} resolved to {ip} ({class}); the rule at {}:{} grants that address, but the rule(s) at line {} of the same guest also admit requests to {origin} without granting it, and requests on one connection cannot be told apart; narrow or remove those rules, or grant the address on them too",
                    self.source,
                    granting.line,
                    others.join(", "),
                )
            } else {
                format!(
                    "{origin} names a non-public address ({class}); the rule at {}:{} grants it only for some paths or methods, but the rule(s) at line {} of the same guest also admit requests to {origin}, and requests on one connection cannot be told apart; narrow or remove those rules, or grant {ip} for every path and method (e.g. {})",
                    self.source,
                    granting.line,
                    others.join(", "),
                    quote(&rule_text(
                        None,
                        target.scheme,
                        &Host::Ip(ip),
                        target.port,
                        None
                    )),
                )
            };
            return Decision::Deny(Denial {
                reason,
                suggestion: None,
                rule: Some(rule_ref(granting, RuleList::Allow)),
            });
        }
        let methods = first.methods.as_ref().map(|m| m.join(","));
        let path = first.path.to_string();
        let path = (first.path != PathPattern::Any).then_some(path.as_str());
        let (reason, suggestion) = match &target.host {
            Host::Name(name) => (
                format!(
                    "{name} resolved to {ip} ({class}), which the policy does not grant; a granted name never unlocks a non-public address"
                ),
                format!(
                    "{{ rule = {}, addresses = [\"{ip}\"] }}",
                    quote(&rule_text(
                        methods.as_deref(),
                        target.scheme,
                        &target.host,
                        target.port,
                        path
                    ))
                ),
            ),
            Host::Ip(_) => (
                format!(
                    "{ip} ({class}) is not granted by the policy; a non-public address needs a rule naming it or its range"
                ),
                quote(&rule_text(
                    methods.as_deref(),
                    target.scheme,
                    &Host::Ip(ip),
                    target.port,
                    path,
                )),
            ),
        };
        Decision::Deny(Denial {
            reason,
            suggestion: Some(suggestion),
            rule: None,
        })
    }

    /// Whether a socket granted by a listening rule (`tcp-listen`, `ws-listen`,
    /// `udp-bind`) may accept a connection or datagram from `peer`: the deny
    /// list is checked for the peer's address, then the first allow rule
    /// granting `listen` must accept the peer (no `peers` list accepts any).
    pub fn check_peer(&self, listen: &Target, peer: IpAddr) -> Decision {
        let peer = canonical_ip(peer);
        let origin = listen.origin();
        if let Some(rule) = self.deny.iter().find(|r| {
            r.scheme.covers(listen.scheme) && r.ports.matches(listen.port) && r.host.names_ip(peer)
        }) {
            return self.denied_by(rule, format!("peer {peer} of {origin}"));
        }
        let Some(rule) = self.allow.iter().find(|r| r.matches_endpoint(listen)) else {
            return Decision::Deny(Denial {
                reason: format!(
                    "no allow rule of guest \"{}\" in {} grants {origin}",
                    self.name, self.source
                ),
                suggestion: Some(quote(&origin)),
                rule: None,
            });
        };
        if rule.accepts_peer(peer) {
            return Decision::Allow(rule_ref(rule, RuleList::Allow));
        }
        let peers: Vec<String> = rule
            .peers
            .iter()
            .map(|n| format!("\"{n}\""))
            .chain([format!("\"{peer}\"")])
            .collect();
        Decision::Deny(Denial {
            reason: format!(
                "peer {peer} is not in the peers of the rule at {}:{} (\"{}\")",
                self.source, rule.line, rule.text
            ),
            suggestion: Some(format!(
                "{{ rule = {}, peers = [{}] }}",
                quote(&rule.text),
                peers.join(", ")
            )),
            rule: Some(rule_ref(rule, RuleList::Allow)),
        })
    }

    fn denied_by(&self, rule: &Rule, what: String) -> Decision {
        Decision::Deny(Denial {
            reason: format!(
                "{what} is denied by the deny rule at {}:{} (\"{}\"); deny rules always win",
                self.source, rule.line, rule.text
            ),
            suggestion: None,
            rule: Some(rule_ref(rule, RuleList::Deny)),
        })
    }
}

/// The text of a rule for exactly this endpoint: methods, scheme, host, the
/// port unless it is the default, and `path` (rule syntax: a literal `*` already
/// written `%2A`).
pub(crate) fn rule_text(
    methods: Option<&str>,
    scheme: Scheme,
    host: &Host,
    port: u16,
    path: Option<&str>,
) -> String {
    let path = path.unwrap_or("");
    let default_port =
        scheme.default_port() == Some(port) || (scheme == Scheme::UdpMulticast && port == 0);
    // `http://10.0.0.1/8` would read as a CIDR; an explicit port disambiguates.
    let cidr_like = matches!(host, Host::Ip(IpAddr::V4(_)))
        && path[1.min(path.len())..].starts_with(|c: char| c.is_ascii_digit());
    let mut text = String::new();
    if let Some(m) = methods {
        text.push_str(m);
        text.push(' ');
    }
    text.push_str(&format!("{scheme}://{host}"));
    if !default_port || cidr_like {
        text.push_str(&format!(":{port}"));
    }
    text.push_str(path);
    text
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
