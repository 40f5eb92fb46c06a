//! For library runs: a dialer that records every address and never lets a
//! packet leave the machine, an in-memory audit log, and the guard using them.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use sandnet::audit::Audit;
use sandnet::guard::{Dialer, GuardConfig, SystemResolver};
use sandnet::policy::Enforcement;
use tokio::net::TcpStream;

use super::guests::{LibRun, run_lib};

/// A guard whose resolver answers `names` itself and whose dialer is `dialer`.
pub fn guard_with(names: &[(&str, IpAddr)], dialer: &RecordingDialer, audit: Audit) -> GuardConfig {
    GuardConfig {
        resolver: Arc::new(SystemResolver::with_overrides(
            names.iter().map(|(n, ip)| ((*n).to_owned(), *ip)),
        )),
        dialer: Arc::new(dialer.clone()),
        audit,
        ..GuardConfig::default()
    }
}

/// What a [`RecordingDialer`] does after recording an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialMode {
    /// Connects to loopback addresses; refuses any other without sending a packet.
    LoopbackOnly,
    /// Never completes (for connect timeouts); sends nothing.
    Hang,
    /// Connects to this loopback address whatever address it was asked for,
    /// so a test can stand a loopback server in for a public address.
    Redirect(SocketAddr),
}

/// Records every address the guard asks it to dial.
#[derive(Debug, Clone)]
pub struct RecordingDialer {
    dialed: Arc<Mutex<Vec<SocketAddr>>>,
    mode: DialMode,
}

impl RecordingDialer {
    /// A recording dialer in `mode`.
    pub fn new(mode: DialMode) -> Self {
        RecordingDialer {
            dialed: Arc::default(),
            mode,
        }
    }

    /// Every address dialled so far, in order.
    pub fn dialed(&self) -> Vec<SocketAddr> {
        self.dialed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Dialer for RecordingDialer {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        self.dialed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(addr);
        let mode = self.mode;
        Box::pin(async move {
            match mode {
                DialMode::Hang => futures::future::pending::<io::Result<TcpStream>>().await,
                DialMode::Redirect(to) if to.ip().is_loopback() => TcpStream::connect(to).await,
                DialMode::LoopbackOnly if addr.ip().is_loopback() => TcpStream::connect(addr).await,
                DialMode::LoopbackOnly | DialMode::Redirect(_) => Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("test dialer refuses non-loopback address {addr}"),
                )),
            }
        })
    }
}

/// An in-memory audit sink.
#[derive(Debug, Clone, Default)]
pub struct AuditBuffer(Arc<Mutex<Vec<u8>>>);

impl AuditBuffer {
    /// An [`Audit`] writing into this buffer.
    pub fn audit(&self) -> Audit {
        Audit::to_writer(Box::new(self.clone()))
    }

    /// Every JSON line written so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        audit_events(&String::from_utf8_lossy(&bytes))
    }
}

/// The events of an audit log's text, one JSON object a line.
pub fn audit_events(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}"))
        })
        .collect()
}

impl Write for AuditBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The cloud metadata address; only ever handed to a [`RecordingDialer`].
pub const METADATA: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 254));
/// A private address; only ever handed to a [`RecordingDialer`].
pub const PRIVATE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 2, 3));
/// 127.0.0.1.
pub const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Runs `guest` through the library under `policy_text`, with `names`
/// resolved by the test and every address dialled through `dialer`.
pub fn run_recorded(
    guest: &str,
    policy_text: &str,
    names: &[(&str, IpAddr)],
    dialer: &RecordingDialer,
    args: &[&str],
) -> (LibRun, AuditBuffer) {
    run_recorded_in(
        Enforcement::Enforce,
        guest,
        policy_text,
        names,
        dialer,
        args,
    )
}

/// [`run_recorded`] with the guard in `mode` (report-only or enforcing).
pub fn run_recorded_in(
    mode: Enforcement,
    guest: &str,
    policy_text: &str,
    names: &[(&str, IpAddr)],
    dialer: &RecordingDialer,
    args: &[&str],
) -> (LibRun, AuditBuffer) {
    let audit = AuditBuffer::default();
    let mut guard = guard_with(names, dialer, audit.audit());
    guard.enforcement = mode;
    (run_lib(guest, policy_text, args, guard), audit)
}
