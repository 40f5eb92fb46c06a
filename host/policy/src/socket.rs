//! The policy walks for standard `wasi:sockets` and UDP sockets: address, name lookup, bind, accept, datagram sender.
//!
//! These sockets carry an address, never the name the guest used, so the
//! walks differ from [`GuestPolicy::check`]: a name rule grants an address
//! through what the host resolved that name to, and an accepted connection
//! cannot be told apart by listener. The host does the I/O (lookups, caches)
//! and asks these pure questions.

use std::net::{IpAddr, SocketAddr};

use crate::addr::canonical_ip;
use crate::decision::{Decision, Denial, RuleList, RuleRef};
use crate::guest::GuestPolicy;
use crate::host::{Host, HostPattern};
use crate::rule::Rule;
use crate::scheme::Scheme;
use crate::target::Target;

/// The line of the [`RuleRef`] that [`GuestPolicy::check_bind`] reports for an
/// implicit bind, which needs no rule.
pub const IMPLICIT_BIND_LINE: u32 = 0;

fn allowed_by(rule: &Rule) -> Decision {
    Decision::Allow(RuleRef {
        line: rule.line,
        text: rule.text.clone(),
        list: RuleList::Allow,
    })
}

impl GuestPolicy {
    /// Host names whose addresses may grant a standard socket of `scheme`
    /// (`tcp` or `udp`) on `port`: the names of exact-host allow rules for that
    /// scheme and port, in file order, without repeats. Wildcard-name rules
    /// (`*.example.com`) are not candidates: an address carries no name.
    pub fn socket_name_candidates(&self, scheme: Scheme, port: u16) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for rule in &self.allow {
            if rule.scheme.covers(scheme)
                && rule.admits_port(port)
                && let HostPattern::Exact(name) = &rule.host
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
        names
    }

    /// The address check of a standard socket by its IP alone: the request
    /// check of `scheme://IP:PORT`, then the address check.
    pub fn check_socket_direct(&self, scheme: Scheme, addr: SocketAddr) -> Decision {
        let by_ip = Target::socket(scheme, addr);
        match self.check(&by_ip) {
            Decision::Allow(_) => self.check_address(&by_ip, addr.ip()),
            deny => deny,
        }
    }

    /// The address check of a standard socket through a host `name` the host
    /// resolved to `addr`'s IP: both checks of `scheme://name:PORT` at that IP.
    /// The caller must only pass a name whose resolved addresses include the IP.
    pub fn check_socket_by_name(&self, scheme: Scheme, addr: SocketAddr, name: &str) -> Decision {
        let target = Target {
            scheme,
            host: Host::Name(name.to_string()),
            port: addr.port(),
            path: String::new(),
            method: None,
        };
        match (self.check(&target), self.check_address(&target, addr.ip())) {
            (Decision::Allow(rule), Decision::Allow(_)) => Decision::Allow(rule),
            (Decision::Deny(d), _) | (_, Decision::Deny(d)) => Decision::Deny(d),
        }
    }

    /// Whether a standard `wasi:sockets` socket may reach `addr` (`scheme` is
    /// `tcp` or `udp`). Allowed when a rule grants the address itself
    /// ([`GuestPolicy::check_socket_direct`]), or when a rule names a host
    /// whose resolved addresses include it and both checks pass for that name
    /// ([`GuestPolicy::check_socket_by_name`]). `resolved` holds what the host
    /// resolved the [`GuestPolicy::socket_name_candidates`] to (names it did
    /// not resolve may be left out). A denial is the direct one.
    pub fn check_socket_addr(
        &self,
        scheme: Scheme,
        addr: SocketAddr,
        resolved: &[(String, Vec<IpAddr>)],
    ) -> Decision {
        let direct = self.check_socket_direct(scheme, addr);
        if direct.is_allowed() {
            return direct;
        }
        let candidates = self.socket_name_candidates(scheme, addr.port());
        resolved
            .iter()
            .filter(|(name, ips)| candidates.contains(name) && ips.contains(&addr.ip()))
            .map(|(name, _)| self.check_socket_by_name(scheme, addr, name))
            .find(Decision::is_allowed)
            .unwrap_or(direct)
    }

    /// Whether any allow rule is of one of `schemes` (the standard sockets are
    /// linked as usable only for a guest with a `tcp`/`tcp-listen` or
    /// `udp`/`udp-bind` rule).
    pub fn allows_any_of(&self, schemes: &[Scheme]) -> bool {
        self.allow.iter().any(|r| schemes.contains(&r.scheme))
    }

    /// Whether a standard socket may look `name` up: only names a `tcp` or
    /// `udp` allow rule names exactly (after normalisation: case, trailing
    /// dot, IDNA), since a lookup of an arbitrary name would itself carry data
    /// out through DNS. IP literals and names that do not parse are refused.
    pub fn grants_lookup(&self, name: &str) -> bool {
        let Ok(Host::Name(name)) = Host::parse(name) else {
            return false;
        };
        self.allow.iter().any(|r| {
            matches!(r.scheme, Scheme::Tcp | Scheme::Udp)
                && matches!(&r.host, HostPattern::Exact(n) if *n == name)
        })
    }

    /// Whether the standard name lookup may hand `ip` to the guest as an
    /// answer for `name`: some `tcp` or `udp` allow rule naming `name` exactly
    /// lets a connection to `name` reach `ip` (the address check, on one of the
    /// rule's ports). Other answers would only tell the guest where the name
    /// points (loopback, a private range) without granting anything.
    pub fn grants_lookup_answer(&self, name: &str, ip: IpAddr) -> bool {
        let Ok(Host::Name(name)) = Host::parse(name) else {
            return false;
        };
        self.allow.iter().any(|rule| {
            let port = match &rule.ports {
                crate::ports::PortPattern::Any => Some(1),
                crate::ports::PortPattern::List(list) => list.first().map(|&(lo, _)| lo),
            };
            matches!(rule.scheme, Scheme::Tcp | Scheme::Udp)
                && matches!(&rule.host, HostPattern::Exact(n) if *n == name)
                && port.is_some_and(|port| {
                    let target = Target {
                        scheme: rule.scheme,
                        host: Host::Name(name.clone()),
                        port,
                        path: String::new(),
                        method: None,
                    };
                    self.check_address(&target, ip).is_allowed()
                })
        })
    }

    /// Whether a standard socket may bind or listen on `addr` (`scheme` is
    /// `tcp-listen` or `udp-bind`). With `implicit_ok`, an unspecified address
    /// with port 0 (the implicit bind before a connect or send) needs no
    /// grant and is allowed with a rule reference at line
    /// [`IMPLICIT_BIND_LINE`]; a listen never gets that pass, or a guest could
    /// listen on every interface. Otherwise the request check of
    /// `scheme://IP:PORT` (port 0 needs a rule port of 0 or `*`).
    pub fn check_bind(&self, scheme: Scheme, addr: SocketAddr, implicit_ok: bool) -> Decision {
        if implicit_ok && addr.ip().is_unspecified() && addr.port() == 0 {
            return Decision::Allow(RuleRef {
                line: IMPLICIT_BIND_LINE,
                text: "implicit bind before a connect or send".to_string(),
                list: RuleList::Allow,
            });
        }
        self.check(&Target::socket(scheme, addr))
    }

    /// Whether a standard TCP listener may accept `peer`. wasmtime-wasi does
    /// not say which listener took the connection, so every `tcp-listen`
    /// allow rule must accept the peer (its `peers`, or none for any), and no
    /// `tcp-listen` deny rule may name the peer's address (or an IPv4 address
    /// it embeds).
    pub fn check_accept(&self, peer: SocketAddr) -> Decision {
        let ip = canonical_ip(peer.ip());
        let listen_rules: Vec<&Rule> = self
            .allow
            .iter()
            .filter(|r| r.scheme == Scheme::TcpListen)
            .collect();
        let denied_by = self
            .deny
            .iter()
            .find(|r| r.scheme.covers(Scheme::TcpListen) && r.host.names_ip(ip));
        let refusing = listen_rules.iter().find(|r| !r.accepts_peer(ip));
        let (reason, rule) = match (denied_by, refusing, listen_rules.first()) {
            (Some(rule), _, _) => (
                format!(
                    "peer {peer} is named by the deny rule at line {} (\"{}\")",
                    rule.line, rule.text
                ),
                Some(RuleRef {
                    line: rule.line,
                    text: rule.text.clone(),
                    list: RuleList::Deny,
                }),
            ),
            (None, Some(rule), _) => (
                format!(
                    "peer {peer} is not in the peers of the tcp-listen rule at line {} (\"{}\"); standard sockets cannot tell listeners apart, so every tcp-listen rule must accept a peer",
                    rule.line, rule.text
                ),
                None,
            ),
            (None, None, None) => (
                format!(
                    "no tcp-listen rule of guest \"{}\" accepts peer {peer}",
                    self.name
                ),
                None,
            ),
            (None, None, Some(first)) => return allowed_by(first),
        };
        Decision::Deny(Denial {
            reason,
            suggestion: None,
            rule,
        })
    }

    /// Whether a datagram from `sender` may reach a UDP socket bound by
    /// `bind` (`None`: an ephemeral bind). `replied_to` says whether the
    /// socket has sent to exactly `sender` (a vetted destination). A bind rule
    /// with `peers` decides alone (after the deny list); otherwise the sender
    /// must be a destination the socket sent to, or one the guest may send to
    /// (`udp://IP:PORT`, request and address checks).
    pub fn check_udp_sender(
        &self,
        bind: Option<&Target>,
        replied_to: bool,
        sender: SocketAddr,
    ) -> Result<(), Denial> {
        let ip = canonical_ip(sender.ip());
        if let Some(bind) = bind {
            if let Decision::Deny(denial) = self.check_peer(bind, ip) {
                return Err(denial);
            }
            let has_peers = self
                .allow
                .iter()
                .find(|r| r.matches_endpoint(bind))
                .is_some_and(|r| !r.peers.is_empty());
            if has_peers {
                return Ok(());
            }
        }
        if replied_to {
            return Ok(());
        }
        match self.check_socket_direct(Scheme::Udp, SocketAddr::new(ip, sender.port())) {
            Decision::Allow(_) => Ok(()),
            Decision::Deny(denial) => Err(denial),
        }
    }

    /// Whether the guest may send broadcasts: a `udp` allow rule naming
    /// exactly one IPv4 address that ends in `.255` (the limited broadcast
    /// address 255.255.255.255 or the broadcast address of a /24 or larger
    /// subnet, e.g. 192.168.1.255).
    pub fn grants_broadcast(&self) -> bool {
        self.allow.iter().any(|r| {
            r.scheme == Scheme::Udp
                && matches!(&r.host, HostPattern::Net(net)
                    if net.prefix_len() == net.max_prefix_len()
                        && matches!(net.addr(), IpAddr::V4(v4) if v4.octets()[3] == 255))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn guest(text: &str) -> GuestPolicy {
        Policy::parse(text, "test.toml")
            .and_then(|p| p.guest(None).cloned())
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")))
            .collect()
    }

    fn outcome(d: Decision) -> Result<u32, String> {
        match d {
            Decision::Allow(r) => Ok(r.line),
            Decision::Deny(d) => Err(d.reason),
        }
    }

    #[test]
    fn name_candidates() {
        let g = guest(
            r#"allow = [
  "tcp://db.test:5432",
  "tcp://*.test:5432",
  "tcp://10.0.0.1:5432",
  "udp://dns.test:53",
  "tcp://db.test:5432,6379",
  "tcp://cache.test:6379",
  "tcp-listen://127.0.0.1:5432",
]"#,
        );
        let cases = [
            (Scheme::Tcp, 5432, vec!["db.test"]),
            (Scheme::Tcp, 6379, vec!["db.test", "cache.test"]),
            (Scheme::Udp, 53, vec!["dns.test"]),
            (Scheme::Udp, 5432, vec![]),
            (Scheme::Tcp, 1, vec![]),
        ];
        for (scheme, port, want) in cases {
            assert_eq!(
                g.socket_name_candidates(scheme, port),
                want,
                "{scheme:?}:{port}"
            );
        }
    }

    #[test]
    fn socket_addresses() {
        let g = guest(
            r#"allow = [
  "tcp://8.8.8.8:53",
  { rule = "tcp://db.test:5432", addresses = ["127.0.0.1"] },
  "tcp://api.test:443",
  "tcp://10.0.0.0/8:6379",
]
deny = ["tcp://10.0.0.13:6379"]"#,
        );
        let resolved = vec![
            ("db.test".to_string(), ips(&["127.0.0.1", "127.0.0.2"])),
            ("api.test".to_string(), ips(&["93.184.216.34", "127.0.0.1"])),
            ("other.test".to_string(), ips(&["127.0.0.9"])),
        ];
        // (scheme, address, Ok(line) or Err(exact reason))
        let cases: [(Scheme, &str, Result<u32, &str>); 8] = [
            (Scheme::Tcp, "8.8.8.8:53", Ok(2)),
            (Scheme::Tcp, "127.0.0.1:5432", Ok(3)),
            (
                Scheme::Tcp,
                "127.0.0.2:5432",
                Err("no allow rule of guest \"default\" in test.toml matches tcp://127.0.0.2:5432"),
            ),
            (Scheme::Tcp, "93.184.216.34:443", Ok(4)),
            (
                Scheme::Tcp,
                "127.0.0.1:443",
                Err("no allow rule of guest \"default\" in test.toml matches tcp://127.0.0.1:443"),
            ),
            (Scheme::Tcp, "10.0.0.14:6379", Ok(5)),
            (
                Scheme::Tcp,
                "10.0.0.13:6379",
                Err(
                    "tcp://10.0.0.13:6379 is denied by the deny rule at test.toml:7 (\"tcp://10.0.0.13:6379\"); deny rules always win",
                ),
            ),
            (
                Scheme::Udp,
                "8.8.8.8:53",
                Err("no allow rule of guest \"default\" in test.toml matches udp://8.8.8.8:53"),
            ),
        ];
        for (scheme, addr, want) in cases {
            let got = outcome(g.check_socket_addr(scheme, sa(addr), &resolved));
            assert_eq!(got, want.map_err(String::from), "{scheme:?} {addr:?}");
        }
        // A name that is not a candidate for the port never grants.
        let stray = vec![("other.test".to_string(), ips(&["127.0.0.9"]))];
        assert!(
            !g.check_socket_addr(Scheme::Tcp, sa("127.0.0.9:5432"), &stray)
                .is_allowed()
        );
        assert_eq!(
            outcome(g.check_socket_by_name(Scheme::Tcp, sa("127.0.0.2:5432"), "db.test")),
            Err("db.test resolved to 127.0.0.2 (loopback), which the policy does not grant; a granted name never unlocks a non-public address".into())
        );
    }

    #[test]
    fn lookups() {
        let g = guest(
            r#"allow = ["tcp://db.test:5432", "udp://DNS.Test.:53", "https://web.test", "tcp://*.wild.test:1", "tcp://10.0.0.1:1"]"#,
        );
        let cases = [
            ("db.test", true),
            ("DB.TEST.", true),
            ("dns.test", true),
            ("web.test", false),
            ("x.wild.test", false),
            ("10.0.0.1", false),
            ("other.test", false),
            ("", false),
            ("a b", false),
        ];
        for (input, want) in cases {
            assert_eq!(g.grants_lookup(input), want, "{input:?}");
        }
    }

    #[test]
    fn binds() {
        let g = guest(
            r#"allow = ["tcp-listen://127.0.0.1:8080", "tcp://127.0.0.1:9", "udp-bind://0.0.0.0:0", "tcp-listen://127.0.0.1:0-100"]"#,
        );
        // (scheme, address, implicit_ok, Ok(line) or Err(exact reason))
        let cases: [(Scheme, &str, bool, Result<u32, &str>); 9] = [
            (Scheme::TcpListen, "0.0.0.0:0", true, Ok(IMPLICIT_BIND_LINE)),
            (Scheme::TcpListen, "[::]:0", true, Ok(IMPLICIT_BIND_LINE)),
            (
                Scheme::TcpListen,
                "0.0.0.0:0",
                false,
                Err(
                    "no allow rule of guest \"default\" in test.toml matches tcp-listen://0.0.0.0:0",
                ),
            ),
            (
                Scheme::TcpListen,
                "[::]:0",
                false,
                Err("no allow rule of guest \"default\" in test.toml matches tcp-listen://[::]:0"),
            ),
            (Scheme::TcpListen, "127.0.0.1:8080", false, Ok(1)),
            (
                Scheme::TcpListen,
                "127.0.0.1:0",
                false,
                Err(
                    "no allow rule of guest \"default\" in test.toml matches tcp-listen://127.0.0.1:0",
                ),
            ),
            (Scheme::TcpListen, "127.0.0.1:50", false, Ok(1)),
            (Scheme::UdpBind, "0.0.0.0:0", false, Ok(1)),
            (
                Scheme::UdpBind,
                "0.0.0.0:5000",
                true,
                Err(
                    "no allow rule of guest \"default\" in test.toml matches udp-bind://0.0.0.0:5000",
                ),
            ),
        ];
        for (scheme, addr, implicit, want) in cases {
            let got = outcome(g.check_bind(scheme, sa(addr), implicit));
            let input = (scheme, addr, implicit);
            assert_eq!(got, want.map_err(String::from), "{input:?}");
        }
    }

    #[test]
    fn accepts() {
        // (policy, peer, Ok(line) or Err(exact reason))
        let cases: [(&str, &str, Result<u32, &str>); 7] = [
            (
                r#"allow = [{ rule = "tcp-listen://0.0.0.0:9000", peers = ["10.0.0.5"] }, "tcp-listen://127.0.0.1:8080"]"#,
                "8.8.8.8:1234",
                Err(
                    "peer 8.8.8.8:1234 is not in the peers of the tcp-listen rule at line 1 (\"tcp-listen://0.0.0.0:9000\"); standard sockets cannot tell listeners apart, so every tcp-listen rule must accept a peer",
                ),
            ),
            (
                r#"allow = [{ rule = "tcp-listen://0.0.0.0:9000", peers = ["10.0.0.5"] }, "tcp-listen://127.0.0.1:8080"]"#,
                "127.0.0.1:1234",
                Err(
                    "peer 127.0.0.1:1234 is not in the peers of the tcp-listen rule at line 1 (\"tcp-listen://0.0.0.0:9000\"); standard sockets cannot tell listeners apart, so every tcp-listen rule must accept a peer",
                ),
            ),
            (
                r#"allow = [{ rule = "tcp-listen://0.0.0.0:9000", peers = ["10.0.0.5"] }, "tcp-listen://127.0.0.1:8080"]"#,
                "10.0.0.5:1",
                Ok(1),
            ),
            (
                "allow = [\"tcp-listen://127.0.0.1:8080\"]\ndeny = [\"tcp-listen://127.0.0.2:8080\"]",
                "127.0.0.1:5",
                Ok(1),
            ),
            (
                "allow = [\"tcp-listen://127.0.0.1:8080\"]\ndeny = [\"tcp-listen://127.0.0.2:8080\"]",
                "127.0.0.2:5",
                Err(
                    "peer 127.0.0.2:5 is named by the deny rule at line 2 (\"tcp-listen://127.0.0.2:8080\")",
                ),
            ),
            (
                "allow = [\"tcp-listen://[::]:8080\"]\ndeny = [\"tcp-listen://127.0.0.0/8:8080\"]",
                "[64:ff9b::7f00:2]:5",
                Err(
                    "peer [64:ff9b::7f00:2]:5 is named by the deny rule at line 2 (\"tcp-listen://127.0.0.0/8:8080\")",
                ),
            ),
            (
                r#"allow = ["tcp://127.0.0.1:9"]"#,
                "127.0.0.1:5",
                Err("no tcp-listen rule of guest \"default\" accepts peer 127.0.0.1:5"),
            ),
        ];
        for (text, peer, want) in cases {
            let got = outcome(guest(text).check_accept(sa(peer)));
            assert_eq!(got, want.map_err(String::from), "{text:?} {peer:?}");
        }
    }

    #[test]
    fn udp_senders() {
        let bind = Target::parse("udp-bind://0.0.0.0:5000").unwrap_or_else(|e| panic!("{e}"));
        // (policy allow list, bound?, replied to?, sender, accepted)
        let cases = [
            (
                r#"["udp-bind://0.0.0.0:5000"]"#,
                true,
                false,
                "127.0.0.1:6000",
                false,
            ),
            (
                r#"["udp-bind://0.0.0.0:5000"]"#,
                true,
                true,
                "127.0.0.1:6000",
                true,
            ),
            (
                r#"["udp-bind://0.0.0.0:5000", "udp://127.0.0.1:6000"]"#,
                true,
                false,
                "127.0.0.1:6000",
                true,
            ),
            (
                r#"["udp-bind://0.0.0.0:5000", "udp://127.0.0.1:6000"]"#,
                true,
                false,
                "127.0.0.1:6001",
                false,
            ),
            (
                r#"[{ rule = "udp-bind://0.0.0.0:5000", peers = ["127.0.0.0/8"] }]"#,
                true,
                false,
                "127.0.0.9:1",
                true,
            ),
            (
                r#"[{ rule = "udp-bind://0.0.0.0:5000", peers = ["127.0.0.0/8"] }]"#,
                true,
                true,
                "10.0.0.1:1",
                false,
            ),
            (
                r#"["udp://127.0.0.1:53"]"#,
                false,
                false,
                "127.0.0.1:53",
                true,
            ),
            (
                r#"["udp://127.0.0.1:53"]"#,
                false,
                false,
                "127.0.0.2:53",
                false,
            ),
            (r#"["udp://*:53"]"#, false, false, "127.0.0.1:53", false),
            (
                r#"["udp://*:53"]"#,
                false,
                false,
                "[::ffff:8.8.8.8]:53",
                true,
            ),
            (
                r#"[{ rule = "udp://name.test:53", addresses = ["127.0.0.1"] }]"#,
                false,
                true,
                "127.0.0.1:53",
                true,
            ),
            (
                r#"[{ rule = "udp://name.test:53", addresses = ["127.0.0.1"] }]"#,
                false,
                false,
                "127.0.0.1:54",
                false,
            ),
        ];
        for (allow, bound, replied, sender, want) in cases {
            let g = guest(&format!("allow = {allow}"));
            let got = g.check_udp_sender(bound.then_some(&bind), replied, sa(sender));
            let input = (allow, bound, replied, sender);
            assert_eq!(got.is_ok(), want, "{input:?}: {got:?}");
        }
        let g = guest(r#"allow = ["udp-bind://0.0.0.0:5000"]"#);
        let got = g
            .check_udp_sender(Some(&bind), false, sa("127.0.0.1:6000"))
            .map_err(|d| d.reason);
        assert_eq!(
            got,
            Err(
                "no allow rule of guest \"default\" in test.toml matches udp://127.0.0.1:6000"
                    .into()
            )
        );
    }

    #[test]
    fn broadcast() {
        let cases = [
            (r#"["udp://255.255.255.255:9"]"#, true),
            (r#"["udp://192.168.1.255:9"]"#, true),
            (r#"["udp://192.168.1.0/24:9"]"#, false),
            (r#"["udp://192.168.1.7:9"]"#, false),
            (r#"["udp://*:9"]"#, false),
            (r#"["tcp://255.255.255.255:9"]"#, false),
            (r#"[]"#, false),
        ];
        for (allow, want) in cases {
            let g = guest(&format!("allow = {allow}"));
            assert_eq!(g.grants_broadcast(), want, "{allow}");
        }
    }

    #[test]
    fn lookup_answers_are_only_addresses_the_guest_may_reach() {
        let policy = crate::Policy::parse(
            r#"allow = ["tcp://db.test:5432", { rule = "udp://svc.test:53", addresses = ["10.0.0.0/8"] }]"#,
            "p.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let guest = policy.guest(None).unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            ("db.test", "93.184.216.34", true),
            ("db.test", "127.0.0.1", false),
            ("db.test", "169.254.169.254", false),
            ("DB.test.", "93.184.216.34", true),
            ("svc.test", "10.1.2.3", true),
            ("svc.test", "192.168.1.1", false),
            ("other.test", "93.184.216.34", false),
        ];
        for (name, ip, want) in cases {
            let ip: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
            assert_eq!(guest.grants_lookup_answer(name, ip), want, "{name:?} {ip}");
        }
    }
}
