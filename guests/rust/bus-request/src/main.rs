//! `bus-request TOPIC MESSAGE...`: sends each MESSAGE as a bus request on
//! TOPIC and prints `TOPIC PAYLOAD` of each reply.
//!
//! Needs only a publish grant on TOPIC: the reply comes back on an inbox the
//! host made, whatever the guest's subscribe grants. Exits 1 on a
//! `net-error` (a refusal prints the policy line to add; no responder yet is
//! `closed`), 2 on bad usage.
//!
//! Optional environment: `BUS_REQUEST_TIMEOUT_MS`, the wait per reply.

use sandnet_guest::bus;
use sandnet_guest::process::exit;

const USAGE: &str = "usage: bus-request TOPIC MESSAGE...";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [topic, messages @ ..] = args.as_slice() else {
        eprintln!("bus-request: {USAGE}");
        exit(2);
    };
    if messages.is_empty() {
        eprintln!("bus-request: {USAGE}");
        exit(2);
    }
    let timeout = std::env::var("BUS_REQUEST_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    for message in messages {
        match bus::request(topic, message.as_bytes(), timeout) {
            Ok(reply) => println!(
                "{} {}",
                reply.topic,
                String::from_utf8_lossy(&reply.payload)
            ),
            Err(err) => {
                eprintln!("bus-request: {err}");
                exit(1);
            }
        }
    }
}
