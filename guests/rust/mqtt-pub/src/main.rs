//! `mqtt-pub URL TOPIC MESSAGE...`: connects to the MQTT broker URL
//! (`mqtt://host[:port]` or `mqtts://...`) and publishes each MESSAGE on
//! TOPIC, then prints `published N`.
//!
//! Optional environment: `MQTT_QOS` (`0`, the default, or `1`: wait for the
//! broker's acknowledgement of each message) and `MQTT_RETAIN=1` (retained
//! messages). A refused publish prints the denial and the policy line to
//! add, and exits 1; bad usage exits 2.

use sandnet_guest::mqtt::{Client, Qos};
use sandnet_guest::process::exit;

const USAGE: &str = "usage: mqtt-pub URL TOPIC MESSAGE...";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, topic, messages @ ..] = args.as_slice() else {
        usage();
    };
    if messages.is_empty() {
        usage();
    }
    let qos = match std::env::var("MQTT_QOS").ok().as_deref() {
        None | Some("0") => Qos::AtMostOnce,
        Some("1") => Qos::AtLeastOnce,
        Some(other) => {
            eprintln!("mqtt-pub: MQTT_QOS must be 0 or 1, not {other:?}");
            exit(2);
        }
    };
    let retain = std::env::var("MQTT_RETAIN").is_ok_and(|v| v == "1");
    let run = || -> sandnet_guest::Result<usize> {
        let client = Client::connect(url, None)?;
        for message in messages {
            client.publish(topic, message.as_bytes(), qos, retain)?;
        }
        Ok(messages.len())
    };
    match run() {
        Ok(n) => println!("published {n}"),
        Err(err) => {
            eprintln!("mqtt-pub: {err}");
            exit(1);
        }
    }
}

fn usage() -> ! {
    eprintln!("mqtt-pub: {USAGE}");
    exit(2);
}
