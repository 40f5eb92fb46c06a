//! `mqtt-sub URL PATTERN [COUNT]`: connects to the MQTT broker URL,
//! subscribes to the filter PATTERN (`+` one level, `#` the rest) and prints
//! `TOPIC PAYLOAD` per message (one flushed line each).
//!
//! Prints `subscribed PATTERN` once the broker acknowledged the subscription,
//! so a test or a script knows when to publish. Exits after COUNT messages
//! (default: runs until stopped). A refused subscription prints the denial
//! and the policy line to add, and exits 1; bad usage exits 2.

use std::io::Write;

use sandnet_guest::mqtt::{Client, Qos};
use sandnet_guest::process::exit;

const USAGE: &str = "usage: mqtt-sub URL PATTERN [COUNT]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, pattern, count) = match args.as_slice() {
        [url, pattern] => (url, pattern, None),
        [url, pattern, count] => match count.parse::<u64>() {
            Ok(n) => (url, pattern, Some(n)),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(err) = run(url, pattern, count) {
        eprintln!("mqtt-sub: {err}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!("mqtt-sub: {USAGE}");
    exit(2);
}

fn run(url: &str, pattern: &str, count: Option<u64>) -> sandnet_guest::Result<()> {
    let client = Client::connect(url, None)?;
    client.subscribe(pattern, Qos::AtLeastOnce)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "subscribed {pattern}");
    let _ = out.flush();
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let message = client.next()?;
        let _ = writeln!(
            out,
            "{} {}",
            message.topic,
            String::from_utf8_lossy(&message.payload)
        );
        let _ = out.flush();
        seen += 1;
    }
    Ok(())
}
