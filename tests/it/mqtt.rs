//! `sandnet:net/mqtt` against a real mosquitto on 127.0.0.1: the mqtt-pub and mqtt-sub guests talk to mosquitto's own command-line clients, inside their policy and refused outside it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::assertions::{Denial, assert_denied, check};
use crate::support::daemons::{Daemon, find};
use crate::support::guests::{Cli, for_each_lang, run_cli};
use crate::support::policy::policy;

const LIMIT: Duration = Duration::from_secs(60);

/// A mosquitto command-line client, its stdout line by line.
struct Tool {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tool {
    fn start(name: &str, broker: &Daemon, args: &[&str]) -> Tool {
        let binary = find(name, "mosquitto-clients", "SANDNET_SKIP_MQTT")
            .unwrap_or_else(|| panic!("{name} vanished"));
        // Piped, mosquitto's tools buffer stdout until they exit; stdbuf
        // (coreutils) makes them write each line as it is printed.
        let mut child = Command::new("stdbuf")
            .arg("-oL")
            .arg(binary)
            .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("piped"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Tool { child, lines }
    }

    /// The next line `wanted` accepts (lines before it are skipped).
    fn line_where(&self, wanted: impl Fn(&str) -> bool, what: &str) -> String {
        loop {
            match self.lines.recv_timeout(LIMIT) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line {what} within {LIMIT:?}: {e}"),
            }
        }
    }

    /// Runs to the end; whether it exited 0.
    fn succeeded(mut self) -> bool {
        self.child.wait().is_ok_and(|s| s.success())
    }
}

fn grant(broker: &Daemon, rule: &str, filter: &str) -> String {
    format!("{rule}://127.0.0.1:{}/{filter}", broker.port())
}

for_each_lang!(
    mqtt_pub_reaches_a_real_mosquitto_sub,
    mqtt_sub_prints_what_mosquitto_pub_sends_and_never_a_denied_topic,
    publish_and_subscribe_outside_the_policy_are_refused_with_the_line_to_add,
);

fn mqtt_pub_reaches_a_real_mosquitto_sub(lang: &str) {
    let Some(broker) = Daemon::mosquitto() else {
        return;
    };
    // -d prints the SUBACK, so the guest publishes only once mosquitto_sub listens.
    let sub = Tool::start("mosquitto_sub", &broker, &["-d", "-v", "-t", "sensors/#"]);
    sub.line_where(|l| l.contains("received SUBACK"), "with the SUBACK");
    // A guest sees only the environment its policy gives it.
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ MQTT_QOS = \"1\" }}",
        grant(&broker, "mqtt-publish", "sensors/#")
    ));
    let url = broker.url("mqtt");
    let guest = format!("{lang}-mqtt-pub");
    let out = Cli::run(&guest, &p, &[], &[&url, "sensors/kitchen", "21.5", "22"]).output();
    check!(out.code == Some(0) && out.stdout == "published 2\n", out);
    // -v prints "TOPIC PAYLOAD"; the debug lines around it start with "Client".
    let message = || sub.line_where(|l| l.starts_with("sensors/"), "with a message");
    check!(message() == "sensors/kitchen 21.5", out);
    check!(message() == "sensors/kitchen 22", out);
}

#[test]
fn a_retained_message_waits_on_the_broker_for_a_later_subscriber() {
    let Some(broker) = Daemon::mosquitto() else {
        return;
    };
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ MQTT_QOS = \"1\", MQTT_RETAIN = \"1\" }}",
        grant(&broker, "mqtt", "state/#")
    ));
    let url = broker.url("mqtt");
    let out = Cli::run("rust-mqtt-pub", &p, &[], &[&url, "state/door", "open"]).output();
    check!(out.code == Some(0), out);
    let sub = Tool::start(
        "mosquitto_sub",
        &broker,
        &["-v", "-C", "1", "-t", "state/#"],
    );
    let line = sub.line_where(|l| l.starts_with("state/"), "with the retained message");
    check!(line == "state/door open", out);
    check!(sub.succeeded(), out);
}

fn mqtt_sub_prints_what_mosquitto_pub_sends_and_never_a_denied_topic(lang: &str) {
    let Some(broker) = Daemon::mosquitto() else {
        return;
    };
    // The subscription sensors/# is granted; the deny rule covers part of
    // it, so it is applied to each message the broker delivers.
    let p = policy(&format!(
        "allow = [\"{}\"]\ndeny = [\"{}\"]",
        grant(&broker, "mqtt-subscribe", "sensors/#"),
        grant(&broker, "mqtt", "sensors/secret/#")
    ));
    let url = broker.url("mqtt");
    let guest = format!("{lang}-mqtt-sub");
    let mut sub = Cli::run(&guest, &p, &[], &[&url, "sensors/#", "2"]).background();
    sub.line_with("subscribed sensors/#", LIMIT);
    for (topic, message) in [
        ("sensors/secret/key", "hidden"),
        ("sensors/kitchen", "hello"),
        ("sensors/hall", "world"),
    ] {
        let publish = Tool::start(
            "mosquitto_pub",
            &broker,
            &["-q", "1", "-t", topic, "-m", message],
        );
        assert!(publish.succeeded(), "mosquitto_pub {topic} failed");
    }
    check!(
        sub.line_with("sensors/", LIMIT) == "sensors/kitchen hello",
        format!("{:?}", sub.seen())
    );
    check!(
        sub.line_with("sensors/", LIMIT) == "sensors/hall world",
        format!("{:?}", sub.seen())
    );
    let (code, rest, stderr) = sub.finish_within(LIMIT);
    check!(code == Some(0), format!("{rest:?}\n{stderr}"));
}

fn publish_and_subscribe_outside_the_policy_are_refused_with_the_line_to_add(lang: &str) {
    let Some(broker) = Daemon::mosquitto() else {
        return;
    };
    let p = policy(&format!(
        "allow = [\"{}\"]",
        grant(&broker, "mqtt", "sensors/#")
    ));
    let url = broker.url("mqtt");
    let (publisher, subscriber) = (format!("{lang}-mqtt-pub"), format!("{lang}-mqtt-sub"));
    let out = run_cli(&publisher, &p, &[], &[&url, "lights/on", "1"]);
    assert_denied(
        &out,
        Denial::Guest("mqtt-pub"),
        Some(&format!(
            "\"{}\"",
            grant(&broker, "mqtt-publish", "lights/on")
        )),
    );
    let out = run_cli(&subscriber, &p, &[], &[&url, "#"]);
    assert_denied(
        &out,
        Denial::Guest("mqtt-sub"),
        Some(&format!("\"{}\"", grant(&broker, "mqtt-subscribe", "#"))),
    );
    // A broker the policy does not name is refused before anything is dialled.
    let other = policy("allow = [\"mqtt://127.0.0.1:1/sensors/#\"]");
    let out = run_cli(&publisher, &other, &[], &[&url, "sensors/x", "1"]);
    assert_denied(
        &out,
        Denial::Guest("mqtt-pub"),
        Some(&format!("\"mqtt://127.0.0.1:{}\"", broker.port())),
    );
}

#[test]
fn explain_and_check_understand_mqtt_rules() {
    let p = policy(
        "allow = [\"mqtt://broker.example:1883/sensors/#\", \"mqtt-subscribe://broker.example/#\"]",
    );
    let explain = |target: &str| Cli::new(["explain", "--policy", p.arg(), target]).output();
    let out = explain("mqtt://broker.example");
    check!(out.code == Some(0), out);
    check!(
        out.stdout.contains("mqtt://broker.example:1883/sensors/#"),
        out
    );
    let out = explain("mqtt://other.example");
    check!(out.code == Some(1), out);
    let out = explain("mqtt-publish://broker.example/sensors/kitchen");
    check!(out.code == Some(0), out);
    let out = explain("mqtt-publish://broker.example/lights/on");
    check!(out.code == Some(1), out);
    check!(
        out.stdout
            .contains("\"mqtt-publish://broker.example:1883/lights/on\""),
        out,
        "the line to add"
    );
    let out = explain("mqtt://broker.example/sensors/+/temp");
    check!(
        out.code == Some(0),
        out,
        "a filter asks about subscribing only"
    );
    let out = explain("mqtt-publish://broker.example/a/+");
    check!(out.code == Some(2), out);
    let out = Cli::new(["check", p.arg()]).output();
    check!(out.code == Some(0), out);
    check!(out.stdout.contains("every MQTT topic"), out);
}
