//! The one choke point every outgoing connection passes:
//! policy check → host-side name resolution → every resolved address checked →
//! dial only vetted addresses (pinned for the connection's life) → audit event.
//!
//! The decision is a value: [`Guard::check_request`] returns a [`Granted`] proof,
//! and [`Guard::connect`] and [`Guard::resolve_vetted`] take one, as listening
//! takes the [`ListenGrant`] of [`Guard::check_listen`]. Only this module makes
//! them, so no protocol core can dial, send or listen without a decision.
//! Name resolution and dialing are seams ([`Resolver`], [`Dialer`]) so tests
//! can answer and record without touching the network.
//!
//! The policy can be swapped while the guest runs ([`Guard::reload`]): every
//! later decision uses the new one, and every live connection (registered as a
//! [`Lease`] when the guard made it) is asked again; those no longer granted
//! fail their next operation with `denied`.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use sandnet_policy::{
    Decision, Denial, Enforcement, GuestPolicy, Host, Judged, Limit, Pin, Scheme, Target,
};
use tokio::net::TcpStream;

use crate::audit::{Audit, AuditEvent, Ongoing, Verdict, operator_reason};
use crate::metrics::Direction;
use crate::net::common::pins::PinSource;
use crate::net::common::secrets::{Credentials, SecretStore};

mod bus;
mod dialer;
mod lease;
mod mqtt;
mod rate;
mod reload;
mod report;
mod resolver;
mod socket;

use crate::error::{NetError, TimeoutKind};
pub use dialer::{Dialer, TcpDialer};
use lease::Leases;
pub use lease::{Grant, Lease};
pub use rate::TokenBucket;
pub use reload::{ReloadReport, Revoked, recheck};
use resolver::normalise_name;
pub use resolver::{Resolver, SystemResolver};
pub use socket::GuardedSocket;

/// One of the guest's `max_connections` slots; the slot frees when this drops,
/// so it must live exactly as long as the connection it was taken for. A slot
/// taken for a granted connection also carries its [`Lease`].
#[derive(Debug)]
pub struct ConnectionPermit {
    open: Arc<AtomicUsize>,
    freed: Arc<tokio::sync::Notify>,
    lease: Option<Arc<Lease>>,
}

impl ConnectionPermit {
    /// `Err(denied)` once a reload revoked the connection this slot is for.
    pub fn check(&self) -> Result<(), NetError> {
        self.lease.as_ref().map_or(Ok(()), |l| l.check())
    }

    /// Waits until a reload revokes the connection (forever for a slot
    /// without a grant); cancel-safe.
    pub async fn revoked(&self) -> NetError {
        match &self.lease {
            Some(lease) => lease.revoked().await,
            None => std::future::pending().await,
        }
    }

    /// The registration, if the slot is for a granted connection.
    pub fn lease(&self) -> Option<&Arc<Lease>> {
        self.lease.as_ref()
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.freed.notify_waiters();
    }
}

/// A connection made by the guard.
#[derive(Debug)]
pub struct GuardedStream {
    /// The socket, connected to a vetted address; reads and writes fail with
    /// `denied` once a reload revokes it.
    pub stream: GuardedSocket,
    /// The vetted address it is connected to.
    pub peer: SocketAddr,
    /// The connection slot this socket occupies.
    pub permit: ConnectionPermit,
}

/// Proof that the policy allowed a request to a target (scheme, host, port, path,
/// method). Made only by [`Guard::check_request`]; dialing and sending need one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    target: Target,
    /// The policy generation that granted it (see [`Guard::reload`]).
    generation: u64,
    /// The secret headers the allowing rule attaches.
    credentials: Credentials,
}

impl Granted {
    /// The checked target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The secret headers the host adds to this request (never shown to the guest).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

/// Proof that the policy allows listening on (or binding) an address. Made only
/// by [`Guard::check_listen`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenGrant {
    granted: Granted,
    addr: SocketAddr,
}

impl ListenGrant {
    /// The listening rule's target (for peer checks).
    pub fn target(&self) -> &Target {
        &self.granted.target
    }

    /// The local address to bind.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Everything the guard needs besides the policy: how to resolve and dial, where to audit.
#[derive(Clone)]
pub struct GuardConfig {
    /// Name resolution.
    pub resolver: Arc<dyn Resolver>,
    /// Socket creation for vetted addresses.
    pub dialer: Arc<dyn Dialer>,
    /// The audit log.
    pub audit: Audit,
    /// The message bus (`sandnet:net/bus`): clones of one config share it,
    /// so every guest of a fleet talks on the same broker; the default is a
    /// fresh private one.
    pub bus: crate::net::bus::broker::Bus,
    /// Whether denials are enforced or only reported (`--report-only`).
    pub enforcement: Enforcement,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            resolver: Arc::new(SystemResolver::default()),
            dialer: Arc::new(TcpDialer),
            audit: Audit::off(),
            bus: Default::default(),
            enforcement: Enforcement::Enforce,
        }
    }
}

/// One guest's guard: its policy, limits, counters and audit log.
pub struct Guard {
    policy: ArcSwap<GuestPolicy>,
    /// Bumped by every [`Guard::reload`].
    generation: AtomicU64,
    config: GuardConfig,
    /// Connection slots in use (against `max_connections`).
    open: Arc<AtomicUsize>,
    /// Woken whenever a connection slot frees (for requests waiting on one).
    slot_freed: Arc<tokio::sync::Notify>,
    /// Live granted connections, re-checked by [`Guard::reload`].
    leases: Arc<Leases>,
    /// `requests_per_second`.
    requests: Mutex<Option<TokenBucket>>,
    /// `datagrams_per_second`, shared by every UDP socket of the guest.
    datagrams: Mutex<Option<TokenBucket>>,
    /// `bus_messages_per_second`, shared by every publish, request and reply.
    bus_messages: Mutex<Option<TokenBucket>>,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    /// Addresses the policy's host names resolved to during this run, for
    /// standard sockets (which only ever show the host an address).
    named: Mutex<HashMap<String, Vec<IpAddr>>>,
    /// The values of the policy's secret headers (see [`Guard::use_secrets`]).
    secrets: ArcSwap<SecretStore>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("guest", &self.policy.load().name)
            .finish_non_exhaustive()
    }
}

impl PinSource for Guard {
    fn pins_for(&self, host: &Host) -> Vec<Vec<Pin>> {
        let policy = self.policy.load();
        policy
            .pins_for_host(host)
            .into_iter()
            .map(|(_, pins)| pins.to_vec())
            .collect()
    }
}

impl Guard {
    /// A guard enforcing `policy`.
    pub fn new(policy: Arc<GuestPolicy>, config: GuardConfig) -> Self {
        let limits = &policy.limits;
        Guard {
            open: Arc::new(AtomicUsize::new(0)),
            slot_freed: Arc::default(),
            leases: Arc::new(Leases::default()),
            requests: Mutex::new(limits.requests_per_second.map(TokenBucket::new)),
            datagrams: Mutex::new(limits.datagrams_per_second.map(TokenBucket::new)),
            bus_messages: Mutex::new(limits.bus_messages_per_second.map(TokenBucket::new)),
            bytes_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            named: Mutex::new(HashMap::new()),
            secrets: ArcSwap::from_pointee(SecretStore::default()),
            policy: ArcSwap::new(policy),
            generation: AtomicU64::new(0),
            config,
        }
    }

    /// Puts in force the secret values read for the policy (at run start,
    /// with [`crate::net::common::refs::load`]); until then a rule with secret
    /// headers grants nothing, since its headers cannot be sent.
    pub fn use_secrets(&self, secrets: SecretStore) {
        self.secrets.store(Arc::new(secrets));
    }

    /// The guest's policy in force now (a later [`Guard::reload`] does not
    /// change the copy returned here).
    pub fn policy(&self) -> Arc<GuestPolicy> {
        self.policy.load_full()
    }

    /// Puts `policy` in force for every later request, connection, datagram
    /// and lookup, with its limits (rates and `max_connections` follow the new
    /// numbers; bytes already counted stay counted), then asks it again about
    /// every live connection, exactly as a new connection to the same target
    /// and address would be asked. Those it no longer grants are revoked:
    /// their pending and later operations fail with `denied` ("the policy was
    /// reloaded and no longer grants ...") and each revocation is audited
    /// (`revoke`). Thread-safe; the caller validates the new policy first.
    pub fn reload(&self, policy: Arc<GuestPolicy>) -> ReloadReport {
        let limits = &policy.limits;
        rate::retune(&self.requests, limits.requests_per_second);
        rate::retune(&self.datagrams, limits.datagrams_per_second);
        rate::retune(&self.bus_messages, limits.bus_messages_per_second);
        match SecretStore::load(&policy) {
            Ok(secrets) => self.use_secrets(secrets),
            // Requests under rules whose secrets cannot be read fail, naming the header.
            Err(err) => {
                tracing::warn!(guest = %policy.name, "secrets of the reloaded policy: {err}")
            }
        }
        self.policy.store(Arc::clone(&policy));
        self.generation.fetch_add(1, Ordering::AcqRel);
        // Registered after the store: a connection that registers later
        // re-checks itself (see `register`), so none slips between the two.
        let mut report = ReloadReport::default();
        for lease in self.leases.snapshot() {
            if lease.is_revoked() {
                continue;
            }
            match self.recheck_grant(&policy, lease.grant()) {
                Ok(()) => report.kept += 1,
                Err(denial) => report.revoked.push(self.revoke(&policy, &lease, &denial)),
            }
        }
        tracing::info!(guest = %policy.name, kept = report.kept, revoked = report.revoked.len(), "policy reloaded");
        report
    }

    /// Revokes `lease` for `denial` of the new `policy`: logs, audits, and
    /// fails the connection's operations with the guest's `denied` error.
    fn revoke(&self, policy: &GuestPolicy, lease: &Lease, denial: &Denial) -> Revoked {
        let grant = lease.grant();
        let (reason, guest_err) = reload::revocation(policy, grant, denial);
        Leases::revoke(lease, guest_err);
        tracing::warn!(guest = %policy.name, target = %grant.target(), peer = ?grant.peer(), %reason, "connection revoked");
        self.record("revoke", grant.target(), Verdict::Deny, |ev| {
            ev.connected = grant.peer();
            ev.reason = Some(reason.clone());
        });
        Revoked {
            target: grant.target().to_string(),
            peer: grant.peer(),
            reason,
        }
    }

    /// Registers a connection granted `grant` under policy `generation`
    /// (`None`: always ask again). When a reload came in between, the grant
    /// is asked again now, so no connection escapes a reload by racing it;
    /// `Err(denied)` if the policy now in force refuses it.
    fn register(&self, grant: Grant, generation: Option<u64>) -> Result<Arc<Lease>, NetError> {
        let lease = self.leases.register(grant);
        if generation != Some(self.generation.load(Ordering::Acquire)) {
            let policy = self.policy.load_full();
            if let Err(denial) = self.recheck_grant(&policy, lease.grant()) {
                self.revoke(&policy, &lease, &denial);
            }
        }
        lease.check()?;
        Ok(lease)
    }

    /// Registers a standard `wasi:sockets` connection (the socket layer has
    /// checked it already), so a reload can revoke it. The lease comes back
    /// revoked if a reload got in between.
    pub fn register_socket(&self, grant: Grant) -> Arc<Lease> {
        let lease = self.leases.register(grant);
        let policy = self.policy.load_full();
        if let Err(denial) = self.recheck_grant(&policy, lease.grant()) {
            self.revoke(&policy, &lease, &denial);
        }
        lease
    }

    /// What the policy's names resolved to during this run.
    fn named_snapshot(&self) -> HashMap<String, Vec<IpAddr>> {
        self.named.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many live connections are registered (for reports and tests).
    pub fn live_connections(&self) -> usize {
        self.leases.len()
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.config.audit
    }

    /// Emits one audit event about `target` when the log is on; `fill` adds the
    /// event's details (skipped entirely when the log is off).
    fn record(
        &self,
        event: &'static str,
        target: &Target,
        verdict: Verdict,
        fill: impl FnOnce(&mut AuditEvent),
    ) {
        self.emit(
            target.scheme.as_str(),
            event,
            || target.to_string(),
            verdict,
            fill,
        );
    }

    /// Emits one audit event of `protocol` about the target `target` makes,
    /// when the log is on (nothing is built when it is off).
    fn emit(
        &self,
        protocol: &str,
        event: &'static str,
        target: impl FnOnce() -> String,
        verdict: Verdict,
        fill: impl FnOnce(&mut AuditEvent),
    ) {
        if !self.audit().enabled() {
            return;
        }
        let mut ev = AuditEvent::new(&self.policy.load().name, protocol, event, target(), verdict);
        fill(&mut ev);
        self.audit().emit(&ev);
    }

    /// An allowed `event` of `protocol` about the target `target` makes,
    /// written when what it describes ends ([`Ongoing`]), timed from
    /// `started`; `None` (and nothing built) when the log is off.
    pub fn ongoing(
        &self,
        protocol: &str,
        event: &'static str,
        target: impl FnOnce() -> String,
        started: Instant,
    ) -> Option<Ongoing> {
        if !self.audit().enabled() {
            return None;
        }
        let ev = AuditEvent::new(
            &self.policy.load().name,
            protocol,
            event,
            target(),
            Verdict::Allow,
        );
        Some(Ongoing::new(self.audit(), ev, started))
    }

    /// Emits the audit event of a failed `event` on `target`.
    fn record_failure(
        &self,
        event: &'static str,
        target: &Target,
        err: &NetError,
        fill: impl FnOnce(&mut AuditEvent),
    ) {
        let verdict = if matches!(err, NetError::Denied(_)) {
            Verdict::Deny
        } else {
            Verdict::Error
        };
        self.record(event, target, verdict, |ev| {
            ev.reason = Some(operator_reason(err));
            if let NetError::LimitExceeded { name, .. } = err {
                ev.limit = Some(name);
            }
            fill(ev);
        });
    }

    /// Takes a token from `bucket` (a rate limit named `name`).
    fn take(bucket: &Mutex<Option<TokenBucket>>, name: Limit) -> Result<(), NetError> {
        Self::take_or_wait(bucket, name).map_err(|(err, _)| err)
    }

    /// Takes a token from `bucket`, or gives the `limit-exceeded` error and
    /// how long until the next token.
    fn take_or_wait(
        bucket: &Mutex<Option<TokenBucket>>,
        name: Limit,
    ) -> Result<(), (NetError, Duration)> {
        let mut bucket = bucket.lock().unwrap_or_else(|p| p.into_inner());
        let Some(bucket) = bucket.as_mut() else {
            return Ok(());
        };
        bucket
            .take_or_wait()
            .map_err(|wait| (NetError::limit(name, u64::from(bucket.per_second())), wait))
    }

    /// One datagram against the guest's `datagrams_per_second` (every UDP
    /// socket of the guest, sandnet's and standard, shares the bucket).
    pub fn take_datagram(&self) -> Result<(), NetError> {
        Self::take(&self.datagrams, Limit::DatagramsPerSecond)
    }

    /// Request-level check (scheme, host, port, path, method) plus the request rate
    /// limit. Denials are audited and returned as [`NetError::Denied`]; an
    /// allowed request gets the [`Granted`] proof that dialing needs.
    pub fn check_request(&self, target: &Target) -> Result<Granted, NetError> {
        self.check_request_or_wait(target)
            .map_err(|(err, _)| self.rate_refused(target, err))
    }

    /// [`Guard::check_request`] for a request that may wait for the request
    /// rate: when the policy's `limits_wait` is on (the default) and a token
    /// comes before `until`, it waits for it and asks the policy again; else
    /// the `requests_per_second` refusal comes at once. Denials never wait.
    pub async fn admit_request(
        &self,
        target: &Target,
        until: Instant,
    ) -> Result<Granted, NetError> {
        loop {
            match self.check_request_or_wait(target) {
                Ok(granted) => return Ok(granted),
                Err((err, None)) => return Err(err),
                Err((err, Some(wait))) => {
                    if !self.policy.load().limits_wait || Instant::now() + wait > until {
                        return Err(self.rate_refused(target, err));
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Audits a refusal by the request rate (other errors are audited where made).
    fn rate_refused(&self, target: &Target, err: NetError) -> NetError {
        if matches!(err, NetError::LimitExceeded { .. }) {
            self.record_failure("request", target, &err, |_| {});
        }
        err
    }

    /// The request check; a refusal by the request rate (not yet audited)
    /// comes with the wait until the next token.
    fn check_request_or_wait(
        &self,
        target: &Target,
    ) -> Result<Granted, (NetError, Option<Duration>)> {
        let generation = self.generation.load(Ordering::Acquire);
        let policy = self.policy.load();
        match self.judge(policy.check(target), target.host.ip()) {
            Judged::Deny(denial) => {
                tracing::info!(guest = %policy.name, %target, reason = %denial.reason, "denied");
                self.record("request", target, Verdict::Deny, |ev| {
                    ev.reason = Some(denial.reason.clone());
                    ev.suggestion = denial.suggestion.clone();
                    ev.method = target.method.clone();
                    ev.rule = denial
                        .rule
                        .as_ref()
                        .map(|r| format!("{}: {}", r.line, r.text));
                });
                Err((self.refuse(&denial, target), None))
            }
            passed => {
                // Secrets attach only to what a rule allows (never to a
                // report-only let-through). Read before the rate token is
                // taken, so a request that fails on an unreadable secret does
                // not spend one.
                let credentials = match &passed {
                    Judged::Allow(_) => match policy.allowing_rule(target) {
                        Some(allowing) => self.secrets.load().credentials(allowing),
                        None => Ok(Credentials::default()),
                    },
                    Judged::WouldDeny(_) | Judged::Deny(_) => Ok(Credentials::default()),
                };
                let credentials = match credentials {
                    Ok(credentials) => credentials,
                    Err(err) => {
                        self.record_failure("request", target, &err, |_| {});
                        return Err((err, None));
                    }
                };
                let rate = Self::take_or_wait(&self.requests, Limit::RequestsPerSecond);
                if let Err((err, wait)) = rate {
                    return Err((err, Some(wait)));
                }
                match &passed {
                    Judged::Allow(rule) => self.record("request", target, Verdict::Allow, |ev| {
                        ev.rule = Some(format!("{}: {}", rule.line, rule.text));
                        ev.method = target.method.clone();
                        ev.secret = credentials.names();
                    }),
                    Judged::WouldDeny(denial) | Judged::Deny(denial) => {
                        self.report_target("request", target, None, denial)
                    }
                }
                Ok(Granted {
                    target: target.clone(),
                    generation,
                    credentials,
                })
            }
        }
    }

    /// The error a guest gets for `denial` of `target`: the operator's log and
    /// audit keep the whole denial; the guest sees [`GuestPolicy::guest_denial`]
    /// (never a resolved address; less under `denial_detail = "minimal"`).
    fn refuse(&self, denial: &Denial, target: &Target) -> NetError {
        let policy = self.policy.load();
        let guest = policy.guest_denial(denial, target);
        if guest != *denial {
            // The guest's copy leaves things out; the operator gets them here.
            tracing::warn!(guest = %policy.name, "{} denied: {denial}", target.describe());
        }
        NetError::Denied(guest)
    }

    /// `err` as the guest may see it (denials through [`Guard::refuse`]).
    fn for_guest(&self, err: NetError, target: &Target) -> NetError {
        match err {
            NetError::Denied(denial) => self.refuse(&denial, target),
            other => other,
        }
    }

    /// Resolves the granted target's host, checks every address against the
    /// policy, and connects to the first vetted address that answers within
    /// `timeout`. Addresses the policy refuses are never dialled.
    pub async fn connect(
        &self,
        granted: &Granted,
        timeout: Duration,
    ) -> Result<GuardedStream, NetError> {
        self.connect_with(granted, timeout, None).await
    }

    /// [`Guard::connect`] that, when every `max_connections` slot is taken
    /// and the policy's `limits_wait` is on, waits for one until `slot_until`
    /// (the wait is not part of `timeout`); `None` fails at once.
    pub async fn connect_with(
        &self,
        granted: &Granted,
        timeout: Duration,
        slot_until: Option<Instant>,
    ) -> Result<GuardedStream, NetError> {
        let target = &granted.target;
        let permit = match slot_until.filter(|_| self.policy.load().limits_wait) {
            Some(until) => self.wait_permit(until).await,
            None => self.try_permit(),
        };
        let permit = match permit {
            Ok(permit) => permit,
            Err(err) => {
                self.record_failure("connect", target, &err, |_| {});
                return Err(err);
            }
        };
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, self.connect_inner(granted, permit)).await;
        let result = match result {
            Ok(inner) => inner,
            Err(_) => Err((NetError::Timeout(TimeoutKind::Connect), Vec::new())),
        };
        let took = started.elapsed();
        match result {
            Ok((stream, resolved)) => {
                self.record("connect", target, Verdict::Allow, |ev| {
                    ev.resolved = resolved;
                    ev.connected = Some(stream.peer);
                    ev.set_took(took);
                });
                Ok(stream)
            }
            Err((err, resolved)) => {
                self.record_failure("connect", target, &err, |ev| {
                    ev.resolved = resolved;
                    ev.set_took(took);
                });
                Err(self.for_guest(err, target))
            }
        }
    }

    async fn connect_inner(
        &self,
        granted: &Granted,
        mut permit: ConnectionPermit,
    ) -> Result<(GuardedStream, Vec<IpAddr>), (NetError, Vec<IpAddr>)> {
        let target = &granted.target;
        let (vetted, resolved) = self.vet(target).await?;
        let mut last_err = None;
        for ip in vetted {
            let addr = SocketAddr::new(ip, target.port);
            match self.config.dialer.dial(addr).await {
                Ok(stream) => {
                    let grant = Grant::Connect {
                        target: target.clone(),
                        peer: addr,
                    };
                    let lease = match self.register(grant, Some(granted.generation)) {
                        Ok(lease) => lease,
                        Err(err) => return Err((err, resolved)),
                    };
                    permit.lease = Some(Arc::clone(&lease));
                    return Ok((
                        GuardedStream {
                            stream: GuardedSocket::new(stream, lease),
                            peer: addr,
                            permit,
                        },
                        resolved,
                    ));
                }
                Err(err) => {
                    tracing::info!(guest = %self.policy.load().name, %target, %addr, %err, "connect failed");
                    last_err = Some(err);
                }
            }
        }
        // The guest learns why, not where: for a name, which address it resolved
        // to stays with the operator (audit log, tracing), or the guest would have
        // a DNS oracle for names it may not otherwise see.
        let detail = last_err.map_or_else(|| "no address answered".to_owned(), |e| e.to_string());
        Err((NetError::Connect(format!("{target}: {detail}")), resolved))
    }

    /// Resolves `target`'s host and keeps the addresses the policy grants, in
    /// order; `Denied` (with the first refusal) when none is granted.
    async fn vet(
        &self,
        target: &Target,
    ) -> Result<(Vec<IpAddr>, Vec<IpAddr>), (NetError, Vec<IpAddr>)> {
        let resolved = match &target.host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => match self.config.resolver.resolve(name).await {
                Ok(ips) if !ips.is_empty() => ips,
                Ok(_) => return Err((NetError::Dns(format!("{name}: no addresses")), Vec::new())),
                Err(err) => return Err((NetError::Dns(format!("{name}: {err}")), Vec::new())),
            },
        };
        let policy = self.policy.load();
        let (vetted, first_denial, reported) =
            vet_addresses(&policy, self.enforcement(), target, &resolved);
        for (ip, denial) in &reported {
            self.report_target("connect", target, Some(*ip), denial);
        }
        if vetted.is_empty() {
            let denial = first_denial.unwrap_or_else(|| Denial {
                reason: format!("{target}: no address to connect to"),
                suggestion: None,
                rule: None,
            });
            tracing::info!(guest = %policy.name, %target, reason = %denial, "connection denied");
            return Err((NetError::Denied(denial), resolved));
        }
        Ok((vetted, resolved))
    }

    /// For protocols that send without connecting (UDP `send-to`): resolves the
    /// granted target, checks every address, audits, and returns the vetted
    /// socket addresses in order.
    pub async fn resolve_vetted(&self, granted: &Granted) -> Result<Vec<SocketAddr>, NetError> {
        let target = &granted.target;
        match self.vet(target).await {
            Ok((vetted, resolved)) => {
                self.record("resolve", target, Verdict::Allow, |ev| {
                    ev.resolved = resolved
                });
                Ok(vetted
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, target.port))
                    .collect())
            }
            Err((err, resolved)) => {
                self.record_failure("resolve", target, &err, |ev| ev.resolved = resolved);
                Err(self.for_guest(err, target))
            }
        }
    }

    /// Takes one of the guest's `max_connections` slots (for accepted
    /// connections and listeners; [`Guard::connect`] takes its own).
    /// The cap is the policy's in force now: after a reload lowers it,
    /// connections already open stay, and new ones wait for room below it.
    pub fn try_permit(&self) -> Result<ConnectionPermit, NetError> {
        let max = self.policy.load().limits.max_connections;
        let cap = usize::try_from(max).unwrap_or(usize::MAX);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .map_err(|_| NetError::limit(Limit::MaxConnections, u64::from(max)))?;
        Ok(ConnectionPermit {
            open: Arc::clone(&self.open),
            freed: Arc::clone(&self.slot_freed),
            lease: None,
        })
    }

    /// Takes one of the guest's `max_connections` slots, waiting until
    /// `until` for one to free when all are taken; then `limit-exceeded`.
    pub async fn wait_permit(&self, until: Instant) -> Result<ConnectionPermit, NetError> {
        loop {
            let freed = self.slot_freed.notified();
            tokio::pin!(freed);
            // Registered before trying, so a slot freed in between still wakes us.
            freed.as_mut().enable();
            match self.try_permit() {
                Ok(permit) => return Ok(permit),
                Err(err) => {
                    if tokio::time::timeout_at(until.into(), freed).await.is_err() {
                        return Err(err);
                    }
                }
            }
        }
    }

    /// A slot for a socket bound under `grant` (a `udp-bind` socket), with
    /// its lease: a reload that withdraws the grant revokes the socket.
    pub fn bind_permit(&self, grant: &ListenGrant) -> Result<ConnectionPermit, NetError> {
        let mut permit = self.try_permit()?;
        let lease = self.register(
            Grant::Listen {
                target: grant.granted.target.clone(),
            },
            Some(grant.granted.generation),
        )?;
        permit.lease = Some(lease);
        Ok(permit)
    }

    /// Takes a slot for a connection a listener granted by `listen` accepted
    /// from `peer` (the caller has checked the peer with [`Guard::check_peer`])
    /// and registers it, so a reload can revoke it.
    pub fn accepted(
        &self,
        listen: &Target,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Result<GuardedStream, NetError> {
        let mut permit = self.try_permit()?;
        let grant = Grant::Accepted {
            listen: listen.clone(),
            peer,
        };
        let lease = self.register(grant, None)?;
        permit.lease = Some(Arc::clone(&lease));
        Ok(GuardedStream {
            stream: GuardedSocket::new(stream, lease),
            peer,
            permit,
        })
    }

    /// Checks a listen/bind grant (`tcp-listen://`, `ws-listen://`, `udp-bind://`)
    /// and returns the local address to bind. The host must be an IP address
    /// or `localhost` (which binds 127.0.0.1).
    pub fn check_listen(&self, target: &Target) -> Result<ListenGrant, NetError> {
        let granted = self.check_request(target)?;
        let ip = match &target.host {
            Host::Ip(ip) => *ip,
            Host::Name(name) if name == "localhost" => IpAddr::from([127, 0, 0, 1]),
            Host::Name(name) => {
                return Err(NetError::InvalidArgument(format!(
                    "{target}: a listening socket binds an IP address, not the name {name:?}; use e.g. 127.0.0.1 or 0.0.0.0"
                )));
            }
        };
        Ok(ListenGrant {
            granted,
            addr: SocketAddr::new(ip, target.port),
        })
    }

    /// Opens a TCP listener for a `tcp-listen://` or `ws-listen://` grant; it
    /// holds one `max_connections` slot. Returns the listener, its local
    /// address (the OS's port for a grant of port 0) and the slot.
    pub async fn listen_tcp(
        &self,
        grant: &ListenGrant,
    ) -> Result<(tokio::net::TcpListener, SocketAddr, ConnectionPermit), NetError> {
        let addr = grant.addr();
        let permit = self.bind_permit(grant)?;
        let failed = |e: io::Error| NetError::Connect(format!("cannot listen on {addr}: {e}"));
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(failed)?;
        let local = listener.local_addr().map_err(failed)?;
        Ok((listener, local, permit))
    }

    /// Whether a socket granted by `listen` may take a connection or datagram
    /// from `peer` (the rule's `peers` list; none accepts any). Refusals are
    /// audited; the caller drops the connection or datagram.
    pub fn check_peer(&self, listen: &Target, peer: SocketAddr) -> Result<(), NetError> {
        let policy = self.policy.load();
        match self.judge(policy.check_peer(listen, peer.ip()), Some(peer.ip())) {
            Judged::Allow(_) => Ok(()),
            Judged::WouldDeny(denial) => {
                self.report_would_deny(
                    listen.scheme.as_str(),
                    "accept",
                    format!("{listen} from {peer}"),
                    None,
                    Some(peer.ip()),
                    &denial,
                );
                Ok(())
            }
            Judged::Deny(denial) => {
                tracing::info!(guest = %policy.name, %listen, %peer, reason = %denial.reason, "peer refused");
                self.record("accept", listen, Verdict::Deny, |ev| {
                    ev.connected = Some(peer);
                    ev.reason = Some(denial.reason.clone());
                });
                Err(NetError::Denied(denial))
            }
        }
    }

    /// Checks an address a standard `wasi:sockets` socket wants to reach
    /// (`scheme` is `tcp` or `udp`): [`GuestPolicy::check_socket_addr`], given
    /// what the policy's candidate names resolved to (once per run, on the host).
    pub async fn check_socket_addr(
        &self,
        scheme: Scheme,
        addr: SocketAddr,
    ) -> Result<(), NetError> {
        let policy = self.policy.load_full();
        let direct = policy.check_socket_direct(scheme, addr);
        let decision = if direct.is_allowed() {
            direct
        } else {
            let mut resolved = Vec::new();
            for name in policy.socket_name_candidates(scheme, addr.port()) {
                let ips = self.resolve_cached(&name).await;
                resolved.push((name, ips));
            }
            policy.check_socket_addr(scheme, addr, &resolved)
        };
        let target = Target::socket(scheme, addr);
        self.record_socket(&target, decision)
    }

    /// The addresses `name` resolves to, looked up once per run; empty when the
    /// lookup fails.
    async fn resolve_cached(&self, name: &str) -> Vec<IpAddr> {
        let cached = {
            let named = self.named.lock().unwrap_or_else(|p| p.into_inner());
            named.get(name).cloned()
        };
        if let Some(ips) = cached {
            return ips;
        }
        // Looked up without the lock; when two lookups race, the first stays.
        let ips = self.config.resolver.resolve(name).await.unwrap_or_default();
        let mut named = self.named.lock().unwrap_or_else(|p| p.into_inner());
        named.entry(name.to_owned()).or_insert(ips).clone()
    }

    /// Name lookup for standard sockets: only names a `tcp` or `udp` allow rule
    /// names exactly are resolved ([`GuestPolicy::grants_lookup`]; once per run,
    /// with the guard's resolver), and only the addresses the guest may then
    /// connect to or send to are returned: the others would tell the guest
    /// what the name resolved to without granting anything. `None` means refused.
    pub async fn lookup_granted_name(&self, name: &str) -> Option<Vec<IpAddr>> {
        let name = normalise_name(name);
        let policy = self.policy.load_full();
        let mode = self.enforcement();
        if !policy.grants_lookup(&name) && mode.lets_through(None) {
            let denial = Denial {
                reason: format!(
                    "no tcp or udp rule of guest \"{}\" names the host {name}",
                    policy.name
                ),
                suggestion: None,
                rule: None,
            };
            self.report_would_deny("dns", "lookup", name.clone(), None, None, &denial);
        } else if !policy.grants_lookup(&name) {
            tracing::warn!(
                "wasi:sockets lookup of {name:?} refused: no tcp or udp rule of guest \"{}\" names it",
                policy.name
            );
            if self.audit().enabled() {
                let mut ev =
                    AuditEvent::new(&policy.name, "dns", "lookup", name.clone(), Verdict::Deny);
                ev.reason = Some("no tcp or udp rule names this host".to_owned());
                self.audit().emit(&ev);
            }
            return None;
        }
        let resolved = self.resolve_cached(&name).await;
        let usable: Vec<IpAddr> = resolved
            .iter()
            .copied()
            .filter(|ip| policy.grants_lookup_answer(&name, *ip) || mode.lets_through(Some(*ip)))
            .collect();
        if usable.len() < resolved.len() {
            tracing::info!(guest = %policy.name, %name, ?resolved, ?usable, "lookup answers the guest may not use were withheld");
        }
        Some(usable)
    }

    /// Checks a standard socket's bind or listen address
    /// ([`GuestPolicy::check_bind`]).
    pub fn check_socket_bind(
        &self,
        scheme: Scheme,
        addr: SocketAddr,
        implicit_ok: bool,
    ) -> Result<(), NetError> {
        let decision = self.policy.load().check_bind(scheme, addr, implicit_ok);
        if matches!(&decision, Decision::Allow(r) if r.line == sandnet_policy::IMPLICIT_BIND_LINE) {
            return Ok(());
        }
        self.record_socket(&Target::socket(scheme, addr), decision)
    }

    /// Whether a standard TCP listener may accept `peer`
    /// ([`GuestPolicy::check_accept`]).
    pub fn check_socket_accept(&self, peer: SocketAddr) -> Result<(), NetError> {
        let decision = self.policy.load().check_accept(peer);
        self.record_socket(&Target::socket(Scheme::TcpListen, peer), decision)
    }

    fn record_socket(&self, target: &Target, decision: Decision) -> Result<(), NetError> {
        match self.judge(decision, target.host.ip()) {
            Judged::WouldDeny(denial) => {
                self.report_target("wasi-socket", target, None, &denial);
                Ok(())
            }
            Judged::Allow(rule) => {
                self.record("wasi-socket", target, Verdict::Allow, |ev| {
                    ev.rule = Some(format!("{}: {}", rule.line, rule.text));
                });
                Ok(())
            }
            Judged::Deny(denial) => {
                match &denial.suggestion {
                    Some(line) => tracing::warn!(
                        "wasi:sockets use of {target} denied: {}; to allow it, add {line} to the guest's allow list",
                        denial.reason
                    ),
                    None => {
                        tracing::warn!("wasi:sockets use of {target} denied: {}", denial.reason)
                    }
                }
                self.record("wasi-socket", target, Verdict::Deny, |ev| {
                    ev.reason = Some(denial.reason.clone());
                });
                Err(NetError::Denied(denial))
            }
        }
    }

    /// Counts `n` bytes sent against `bytes_out_total` (and in the metrics).
    pub fn count_out(&self, n: u64) -> Result<(), NetError> {
        let counted = count(
            &self.bytes_out,
            n,
            self.policy.load().limits.bytes_out_total,
            Limit::BytesOutTotal,
        );
        self.config.audit.count_bytes(Direction::Out, n, counted)
    }

    /// Counts `n` bytes received against `bytes_in_total` (and in the metrics).
    pub fn count_in(&self, n: u64) -> Result<(), NetError> {
        let counted = count(
            &self.bytes_in,
            n,
            self.policy.load().limits.bytes_in_total,
            Limit::BytesInTotal,
        );
        self.config.audit.count_bytes(Direction::In, n, counted)
    }
}

fn count(counter: &AtomicU64, n: u64, limit: Option<u64>, name: Limit) -> Result<(), NetError> {
    let total = counter.fetch_add(n, Ordering::Relaxed).saturating_add(n);
    match limit {
        Some(limit) if total > limit => Err(NetError::limit(name, limit)),
        _ => Ok(()),
    }
}

/// Splits `resolved` into the addresses the guard may dial for `target` (in
/// order), the first denial met, and the denials `enforcement` let through
/// (report-only; their addresses are among those to dial). Pure: the heart of
/// the guard, unit-tested below.
pub fn vet_addresses(
    policy: &GuestPolicy,
    enforcement: Enforcement,
    target: &Target,
    resolved: &[IpAddr],
) -> (Vec<IpAddr>, Option<Denial>, Vec<(IpAddr, Denial)>) {
    let mut vetted = Vec::new();
    let mut first_denial = None;
    let mut reported = Vec::new();
    for ip in resolved {
        match enforcement.judge(policy.check_address(target, *ip), Some(*ip)) {
            Judged::Allow(_) => vetted.push(*ip),
            Judged::WouldDeny(denial) => {
                vetted.push(*ip);
                reported.push((*ip, denial));
            }
            Judged::Deny(denial) => {
                tracing::info!(guest = %policy.name, %target, %ip, reason = %denial.reason, "address refused");
                first_denial.get_or_insert(denial);
            }
        }
    }
    (vetted, first_denial, reported)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use sandnet_policy::Policy;

    use futures::future::BoxFuture;

    use super::*;

    /// Records every address it is asked to dial and never opens a socket, so a
    /// wrong decision cannot send a packet anywhere.
    #[derive(Default)]
    struct RecordingDialer {
        dialled: Mutex<Vec<SocketAddr>>,
    }

    impl Dialer for Arc<RecordingDialer> {
        fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
            self.dialled.lock().unwrap().push(addr);
            Box::pin(async {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "recording dialer",
                ))
            })
        }
    }

    fn guard(policy: &str, answers: &[(&str, &str)]) -> (Guard, Arc<RecordingDialer>) {
        let policy = Policy::parse(policy, "test.toml").unwrap();
        let guest = Arc::new(policy.guest(None).unwrap().clone());
        let resolver = SystemResolver::with_overrides(
            answers
                .iter()
                .map(|(name, ip)| ((*name).to_owned(), ip.parse().unwrap())),
        );
        let dialer = Arc::new(RecordingDialer::default());
        let config = GuardConfig {
            resolver: Arc::new(resolver),
            dialer: Arc::new(Arc::clone(&dialer)),
            audit: Audit::off(),
            ..GuardConfig::default()
        };
        (Guard::new(guest, config), dialer)
    }

    #[test]
    fn report_only_dials_would_be_denied_public_addresses_and_refuses_the_rest() {
        let policy = Policy::parse("allow = [\"http://app.example.com\"]", "t.toml").unwrap();
        let guest = policy.guest(None).unwrap();
        let target = Target::parse("http://other.example.com/").unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        let resolved = [public, private];
        // (mode, vetted, reported)
        let cases = [
            (Enforcement::Enforce, vec![], vec![]),
            (Enforcement::ReportOnly, vec![public], vec![public]),
            (
                Enforcement::ReportOnlyAll,
                vec![public, private],
                vec![public, private],
            ),
        ];
        for (mode, want_vetted, want_reported) in cases {
            let (vetted, first, reported) = vet_addresses(guest, mode, &target, &resolved);
            assert_eq!(vetted, want_vetted, "{mode}");
            let reported: Vec<IpAddr> = reported.iter().map(|(ip, _)| *ip).collect();
            assert_eq!(reported, want_reported, "{mode}");
            assert_eq!(first.is_some(), vetted.len() < resolved.len(), "{mode}");
        }
    }

    /// A decision made up for tests that exercise the dialing half alone.
    fn granted(target: &Target) -> Granted {
        Granted {
            target: target.clone(),
            generation: 0,
            credentials: Credentials::default(),
        }
    }

    /// Asserts the dialer was asked for exactly `want`, in order.
    #[track_caller]
    fn assert_dialled(dialer: &RecordingDialer, want: &[&str]) {
        let want: Vec<SocketAddr> = want.iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(*dialer.dialled.lock().unwrap(), want);
    }

    async fn connect(guard: &Guard, url: &str) -> NetError {
        let target = Target::parse(url).unwrap();
        guard
            .connect(&granted(&target), Duration::from_secs(1))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn non_public_answers_are_never_dialled_for_a_name_rule() {
        let (guard, dialer) = guard(
            r#"allow = ["http://app.test"]"#,
            &[
                ("app.test", "127.0.0.1"),
                ("app.test", "169.254.169.254"),
                ("app.test", "10.1.2.3"),
            ],
        );
        let err = connect(&guard, "http://app.test/").await;
        // The guest is told the name was refused, never where it points.
        assert!(
            matches!(&err, NetError::Denied(d) if d.reason.contains("app.test resolved to an address the policy does not grant")
                && d.suggestion.is_none()),
            "{err}"
        );
        for ip in ["127.0.0.1", "169.254.169.254", "10.1.2.3"] {
            assert!(!format!("{err:?}").contains(ip), "{ip} leaked: {err:?}");
        }
        assert_dialled(&dialer, &[]);
    }

    #[tokio::test]
    async fn only_the_vetted_addresses_of_a_mixed_answer_are_dialled() {
        let (guard, dialer) = guard(
            r#"allow = ["http://app.test"]"#,
            &[
                ("app.test", "169.254.169.254"),
                ("app.test", "93.184.216.34"),
            ],
        );
        let err = connect(&guard, "http://app.test/").await;
        assert!(matches!(err, NetError::Connect(_)), "{err}");
        assert!(
            !err.to_string().contains("93.184.216.34"),
            "a connect error must not name the resolved address: {err}"
        );
        assert_dialled(&dialer, &["93.184.216.34:80"]);
    }

    #[tokio::test]
    async fn ip_literal_grants_limited_by_path_do_not_widen_a_wildcard_rule() {
        let (guard, dialer) = guard(
            r#"allow = ["http://*:*", "http://127.0.0.1:8080/ok/*"]"#,
            &[],
        );
        let target = Target::parse("http://127.0.0.1:8080/secret").unwrap();
        assert!(
            guard.check_request(&target).is_ok(),
            "the wildcard admits the request"
        );
        let err = connect(&guard, "http://127.0.0.1:8080/secret").await;
        assert!(matches!(err, NetError::Denied(_)), "{err}");
        assert_dialled(&dialer, &[]);
    }

    #[tokio::test]
    async fn minimal_denial_detail_hides_the_policy_from_the_guest() {
        let (guard, _dialer) = guard(
            "denial_detail = \"minimal\"\nallow = [\"https://api.test/v1/*\"]\ndeny = [\"https://api.test/v1/admin/*\"]",
            &[],
        );
        for url in ["https://api.test/v2", "https://api.test/v1/admin/x"] {
            let err = guard
                .check_request(&Target::parse(url).unwrap())
                .unwrap_err();
            let NetError::Denied(denial) = &err else {
                panic!("{url}: {err}")
            };
            assert_eq!(denial.suggestion, None, "{url}");
            assert_eq!(denial.rule, None, "{url}");
            assert!(
                !denial.reason.contains("test.toml") && !denial.reason.contains("line"),
                "{url}: {denial:?}"
            );
        }
    }

    #[tokio::test]
    async fn address_allowance_unlocks_exactly_its_range() {
        let (guard, dialer) = guard(
            r#"allow = [{ rule = "tcp://db.internal:5432", addresses = ["10.0.0.0/8"] }]"#,
            &[("db.internal", "10.0.0.7"), ("db.internal", "192.168.1.1")],
        );
        let err = connect(&guard, "tcp://db.internal:5432").await;
        assert!(matches!(err, NetError::Connect(_)), "{err}");
        assert_dialled(&dialer, &["10.0.0.7:5432"]);
    }

    #[tokio::test]
    async fn ip_literal_outside_the_policy_is_refused_before_dialling() {
        let (guard, dialer) = guard(r#"allow = ["http://127.0.0.1:8080"]"#, &[]);
        let err = connect(&guard, "http://169.254.169.254/latest/meta-data").await;
        assert!(matches!(err, NetError::Denied(_)), "{err}");
        let err = connect(&guard, "http://127.0.0.1:8081/").await;
        assert!(matches!(err, NetError::Denied(_)), "{err}");
        assert_dialled(&dialer, &[]);
    }

    #[tokio::test]
    async fn localhost_rule_reaches_loopback() {
        let (guard, dialer) = guard(
            r#"allow = ["http://localhost:8080"]"#,
            &[("localhost", "127.0.0.1")],
        );
        let err = connect(&guard, "http://localhost:8080/").await;
        assert!(matches!(err, NetError::Connect(_)), "{err}");
        assert_dialled(&dialer, &["127.0.0.1:8080"]);
    }

    #[tokio::test]
    async fn max_connections_is_enforced_while_connections_live() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let policy =
            format!("allow = [\"tcp://127.0.0.1:{port}\"]\n[limits]\nmax_connections = 1\n");
        let guard = bare_guard(&policy);
        let target = Target::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let first = guard
            .connect(&granted(&target), Duration::from_secs(5))
            .await
            .unwrap();
        let err = guard
            .connect(&granted(&target), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::LimitExceeded {
                    name: "max_connections",
                    value: 1
                }
            ),
            "{err}"
        );
        drop(first);
        guard
            .connect(&granted(&target), Duration::from_secs(5))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_grant_from_before_a_reload_cannot_connect_after_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let guard = bare_guard(&format!("allow = [\"tcp://127.0.0.1:{port}\"]"));
        let target = Target::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let granted = guard.check_request(&target).unwrap();
        let policy = Policy::parse("allow = []", "b.toml").unwrap();
        let report = guard.reload(Arc::new(policy.guest(None).unwrap().clone()));
        assert_eq!(report, ReloadReport::default());
        let err = guard
            .connect(&granted, Duration::from_secs(5))
            .await
            .unwrap_err();
        // Refused by the policy now in force (here already by the address
        // check; a reload landing after it is caught when the lease registers).
        assert!(matches!(&err, NetError::Denied(_)), "{err}");
        assert_eq!(guard.live_connections(), 0);
    }

    /// Dials for real, after reloading its guard to `next`: a reload landing
    /// between the address check and the connection's registration.
    struct ReloadingDialer {
        guard: Arc<std::sync::OnceLock<std::sync::Weak<Guard>>>,
        next: Arc<GuestPolicy>,
    }

    impl Dialer for ReloadingDialer {
        fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
            if let Some(guard) = self.guard.get().and_then(std::sync::Weak::upgrade) {
                guard.reload(Arc::clone(&self.next));
            }
            Box::pin(TcpStream::connect(addr))
        }
    }

    #[tokio::test]
    async fn a_reload_during_the_dial_is_caught_when_the_connection_registers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let text = format!("allow = [\"tcp://127.0.0.1:{port}\"]");
        let first = Policy::parse(&text, "a.toml").unwrap();
        let next = Policy::parse("allow = []", "b.toml").unwrap();
        let slot = Arc::new(std::sync::OnceLock::new());
        let config = GuardConfig {
            dialer: Arc::new(ReloadingDialer {
                guard: Arc::clone(&slot),
                next: Arc::new(next.guest(None).unwrap().clone()),
            }),
            ..GuardConfig::default()
        };
        let guard = Arc::new(Guard::new(
            Arc::new(first.guest(None).unwrap().clone()),
            config,
        ));
        slot.set(Arc::downgrade(&guard)).unwrap();
        let target = Target::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let granted = guard.check_request(&target).unwrap();
        let err = guard
            .connect(&granted, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, NetError::Denied(d) if d.reason.starts_with("the policy was reloaded and no longer grants")),
            "{err}"
        );
        assert_eq!(guard.live_connections(), 0);
    }

    #[tokio::test]
    async fn a_revoked_socket_fails_a_pending_read_and_every_later_write() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let guard = Arc::new(bare_guard(&format!("allow = [\"tcp://127.0.0.1:{port}\"]")));
        let target = Target::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let granted = guard.check_request(&target).unwrap();
        let mut conn = guard
            .connect(&granted, Duration::from_secs(5))
            .await
            .unwrap();
        let (_held, _) = listener.accept().await.unwrap();
        let reading = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let err = conn.stream.read(&mut buf).await.unwrap_err();
            (conn, err)
        });
        tokio::task::yield_now().await;
        let policy = Policy::parse("allow = []", "b.toml").unwrap();
        let report = guard.reload(Arc::new(policy.guest(None).unwrap().clone()));
        assert_eq!(report.revoked.len(), 1);
        let (mut conn, err) = reading.await.unwrap();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            matches!(
                crate::error::find_net_error(&err),
                Some(NetError::Denied(_))
            ),
            "{err}"
        );
        let err = conn.stream.write_all(b"x").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(conn.permit.check().is_err());
    }

    #[test]
    fn rate_limit_refuses_past_the_bucket() {
        let policy = "allow = [\"http://127.0.0.1:1\"]\n[limits]\nrequests_per_second = 2\n";
        let guard = bare_guard(policy);
        let target = Target::parse("http://127.0.0.1:1/").unwrap();
        assert!(guard.check_request(&target).is_ok());
        assert!(guard.check_request(&target).is_ok());
        let err = guard.check_request(&target).unwrap_err();
        assert!(
            matches!(
                err,
                NetError::LimitExceeded {
                    name: "requests_per_second",
                    value: 2
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_request_failing_on_an_unreadable_secret_spends_no_rate_token() {
        let policy = "allow = [\"http://127.0.0.1:1/open/*\", \
            { rule = \"http://127.0.0.1:1/api/*\", headers = { authorization = { env = \"SANDNET_TEST_UNSET_TOKEN\" } } }]\n\
            [limits]\nrequests_per_second = 1\n";
        // No secret values loaded: the /api/ rule's header cannot be filled.
        let guard = bare_guard(policy);
        let api = Target::parse("http://127.0.0.1:1/api/x").unwrap();
        for _ in 0..3 {
            let err = guard.check_request(&api).unwrap_err();
            assert!(err.to_string().contains("secret header"), "{err}");
        }
        let open = Target::parse("http://127.0.0.1:1/open/x").unwrap();
        assert!(
            guard.check_request(&open).is_ok(),
            "the failed requests left the one token of requests_per_second = 1"
        );
    }

    fn bare_guard(policy: &str) -> Guard {
        let policy = Policy::parse(policy, "test.toml").unwrap();
        Guard::new(
            Arc::new(policy.guest(None).unwrap().clone()),
            GuardConfig::default(),
        )
    }

    #[test]
    fn standard_listen_never_gets_the_implicit_bind_pass() {
        let guard = bare_guard(r#"allow = ["tcp-listen://127.0.0.1:8080", "tcp://127.0.0.1:9"]"#);
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert!(
            guard
                .check_socket_bind(Scheme::TcpListen, any, true)
                .is_ok(),
            "implicit bind before connect"
        );
        assert!(
            guard
                .check_socket_bind(Scheme::TcpListen, any, false)
                .is_err(),
            "listen on every interface"
        );
        let v6: SocketAddr = "[::]:0".parse().unwrap();
        assert!(
            guard
                .check_socket_bind(Scheme::TcpListen, v6, false)
                .is_err()
        );
        let granted: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(
            guard
                .check_socket_bind(Scheme::TcpListen, granted, false)
                .is_ok()
        );
    }

    #[test]
    fn standard_accept_needs_every_listen_rule_and_no_deny() {
        let guard = bare_guard(
            r#"allow = [{ rule = "tcp-listen://0.0.0.0:9000", peers = ["10.0.0.5"] }, "tcp-listen://127.0.0.1:8080"]"#,
        );
        for peer in ["8.8.8.8:1234", "127.0.0.1:1234"] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert!(
                guard.check_socket_accept(peer).is_err(),
                "{peer}: the 9000 rule restricts peers"
            );
        }
        assert!(
            guard
                .check_socket_accept("10.0.0.5:1".parse().unwrap())
                .is_ok()
        );
        let guard = bare_guard(
            "allow = [\"tcp-listen://127.0.0.1:8080\"]\ndeny = [\"tcp-listen://127.0.0.2:8080\"]",
        );
        assert!(
            guard
                .check_socket_accept("127.0.0.1:5".parse().unwrap())
                .is_ok()
        );
        assert!(
            guard
                .check_socket_accept("127.0.0.2:5".parse().unwrap())
                .is_err()
        );
        let guard = bare_guard(r#"allow = ["tcp://127.0.0.1:9"]"#);
        assert!(
            guard
                .check_socket_accept("127.0.0.1:5".parse().unwrap())
                .is_err(),
            "no listen rule at all"
        );
    }

    #[test]
    fn byte_quotas_count_across_calls() {
        let policy = "allow = []\n[limits]\nbytes_out_total = 10\n";
        let guard = bare_guard(policy);
        assert!(guard.count_out(6).is_ok());
        assert!(guard.count_out(4).is_ok());
        assert!(matches!(
            guard.count_out(1),
            Err(NetError::LimitExceeded {
                name: "bytes_out_total",
                ..
            })
        ));
        assert!(
            guard.count_in(1_000_000).is_ok(),
            "no bytes_in_total limit set"
        );
    }
}
