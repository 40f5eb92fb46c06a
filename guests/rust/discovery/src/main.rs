//! `discovery NAME udp://GROUP:PORT [INTERFACE]`: LAN service discovery over
//! multicast, as a plugin would do it.
//!
//! Binds `udp-bind://0.0.0.0:PORT` (shared with other discovery guests on the
//! same machine), joins `GROUP` on the interface with address `INTERFACE`
//! (e.g. `127.0.0.1`; default: the kernel's choice), announces
//! `sandnet-discovery NAME` to the group every 100 ms and prints
//! `found OTHER at IP:PORT` for each other service it hears. Exits 0 once it
//! found `DISCOVERY_WANT` services (default 1), announcing once more so late
//! joiners hear it; 1 on a `net-error` or after `DISCOVERY_TIMEOUT_MS`
//! (default 10000) without finding them; 2 on bad usage.

use std::time::{Duration, Instant};

use sandnet_guest::process::exit;
use sandnet_guest::udp::UdpSocket;
use sandnet_guest::{Error, TimeoutKind};

const USAGE: &str = "usage: discovery NAME udp://GROUP:PORT [INTERFACE]";
const PREFIX: &str = "sandnet-discovery ";
const INTERVAL: Duration = Duration::from_millis(100);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, target, interface) = match args.as_slice() {
        [name, target] => (name, target, None),
        [name, target, interface] => (name, target, Some(interface.as_str())),
        _ => {
            eprintln!("discovery: {USAGE}");
            exit(2);
        }
    };
    let want: usize = env_num("DISCOVERY_WANT", 1);
    let timeout = Duration::from_millis(env_num("DISCOVERY_TIMEOUT_MS", 10_000));
    let Some((group, port)) = target
        .strip_prefix("udp://")
        .and_then(|rest| rest.rsplit_once(':'))
    else {
        eprintln!("discovery: {USAGE}");
        exit(2);
    };
    match discover(name, target, group, port, interface, want, timeout) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("discovery: no other service heard within {timeout:?}");
            exit(1);
        }
        Err(err) => {
            eprintln!("discovery: {err}");
            exit(1);
        }
    }
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn discover(
    name: &str,
    target: &str,
    group: &str,
    port: &str,
    interface: Option<&str>,
    want: usize,
    timeout: Duration,
) -> sandnet_guest::Result<bool> {
    let socket = UdpSocket::bind(&format!("udp-bind://0.0.0.0:{port}"))?;
    socket.join_multicast(group, interface)?;
    let announcement = format!("{PREFIX}{name}");
    let started = Instant::now();
    let mut found: Vec<String> = Vec::new();
    while found.len() < want {
        if started.elapsed() > timeout {
            return Ok(false);
        }
        socket.send_to(target, announcement.as_bytes())?;
        let round = Instant::now();
        while round.elapsed() < INTERVAL {
            let left = INTERVAL.saturating_sub(round.elapsed());
            let ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1);
            let datagram = match socket.receive(Some(ms)) {
                Ok(d) => d,
                Err(Error::Timeout(TimeoutKind::Idle)) => break,
                Err(err) => return Err(err),
            };
            let text = String::from_utf8_lossy(&datagram.data);
            if let Some(other) = text.strip_prefix(PREFIX)
                && other != name
                && !found.iter().any(|f| f == other)
            {
                println!("found {other} at {}", datagram.sender);
                found.push(other.to_owned());
            }
        }
    }
    socket.send_to(target, announcement.as_bytes())?;
    Ok(true)
}
