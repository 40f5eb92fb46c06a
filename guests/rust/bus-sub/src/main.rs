//! `bus-sub PATTERN [COUNT]`: subscribes to the bus pattern PATTERN and prints
//! `TOPIC PAYLOAD` per message (one flushed line each).
//!
//! Prints `subscribed PATTERN` once the subscription is live, so a test or a
//! script knows when to publish. Exits after COUNT messages (default: runs
//! until stopped), printing `dropped N` (messages the full queue dropped)
//! last. A refused subscription prints the denial and the policy line to
//! add, and exits 1; bad usage exits 2.
//!
//! Optional environment: `BUS_SUB_CAPACITY` (queue size, default 256) and
//! `BUS_SUB_OVERFLOW` (`drop-oldest`, the default, or `back-pressure`).

use std::io::Write;

use sandnet_guest::bus::{self, Overflow, SubscribeOptions};
use sandnet_guest::process::exit;

const USAGE: &str = "usage: bus-sub PATTERN [COUNT]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pattern, count) = match args.as_slice() {
        [pattern] => (pattern, None),
        [pattern, count] => match count.parse::<u64>() {
            Ok(n) => (pattern, Some(n)),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(err) = run(pattern, count) {
        eprintln!("bus-sub: {err}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!("bus-sub: {USAGE}");
    exit(2);
}

fn run(pattern: &str, count: Option<u64>) -> sandnet_guest::Result<()> {
    let capacity = std::env::var("BUS_SUB_CAPACITY")
        .ok()
        .and_then(|v| v.parse().ok());
    let overflow = match std::env::var("BUS_SUB_OVERFLOW").ok().as_deref() {
        Some("back-pressure") => Some(Overflow::BackPressure),
        Some("drop-oldest") | None => Some(Overflow::DropOldest),
        Some(other) => {
            eprintln!(
                "bus-sub: BUS_SUB_OVERFLOW must be drop-oldest or back-pressure, not {other:?}"
            );
            exit(2);
        }
    };
    let options = SubscribeOptions { capacity, overflow };
    let subscription = bus::subscribe_with(pattern, Some(options))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "subscribed {pattern}");
    let _ = out.flush();
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let message = subscription.next()?;
        let _ = writeln!(
            out,
            "{} {}",
            message.topic,
            String::from_utf8_lossy(&message.payload)
        );
        let _ = out.flush();
        seen += 1;
    }
    let _ = writeln!(out, "dropped {}", subscription.dropped());
    Ok(())
}
