//! `bus-pub TOPIC MESSAGE...`: publishes each MESSAGE on the bus topic TOPIC.
//!
//! A MESSAGE written `@OTHER` switches the topic to OTHER for the messages
//! after it (`bus-pub a.x one @a.y two`), so one run can show the order of
//! publishes on several topics. Prints `published N` at the end. A refused
//! publish prints the denial and the policy line to add, and exits 1; bad
//! usage exits 2.

use sandnet_guest::bus;
use sandnet_guest::process::exit;

const USAGE: &str = "usage: bus-pub TOPIC MESSAGE... (a MESSAGE @TOPIC switches the topic)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [topic, messages @ ..] = args.as_slice() else {
        eprintln!("bus-pub: {USAGE}");
        exit(2);
    };
    if messages.is_empty() {
        eprintln!("bus-pub: {USAGE}");
        exit(2);
    }
    let mut topic = topic.as_str();
    let mut published = 0;
    for message in messages {
        if let Some(next) = message.strip_prefix('@') {
            topic = next;
            continue;
        }
        if let Err(err) = bus::publish(topic, message.as_bytes()) {
            eprintln!("bus-pub: {err}");
            exit(1);
        }
        published += 1;
    }
    println!("published {published}");
}
