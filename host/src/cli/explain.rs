//! `sandnet explain`: tells whether a target is allowed, by which rule, or which
//! line would allow it.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use sandnet_policy::{
    BusAction, Decision, GuestPolicy, MqttAction, Policy, Scheme, Subject, Target, TopicFilter,
    split_bus_url,
};

use super::{Format, load_policy, select_guest};
use crate::exit::Code;

/// Tell whether a target is allowed, by which rule, or which line would allow it.
///
/// TARGET is a URL (`https://api.example.com/v1/x`, `tcp://db:5432`),
/// optionally preceded by a method (`"POST https://api.example.com/v1/x"`),
/// a bus action: `bus-publish://TOPIC`, `bus-subscribe://PATTERN`
/// (`bus://X` asks both), or an MQTT one: `mqtt-publish://BROKER/TOPIC`,
/// `mqtt-subscribe://BROKER/FILTER` (`mqtt://` or `mqtts://BROKER/X` asks
/// both, over that transport).
/// Exits 0 when allowed, 1 when denied.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The policy file.
    #[arg(long, short = 'p', value_name = "FILE")]
    policy: PathBuf,
    /// Which guest's table to use (optional with one guest).
    #[arg(long, short = 'g', value_name = "NAME")]
    guest: Option<String>,
    /// Also check these resolved addresses of the target's host, as the
    /// guard does after DNS. Repeatable.
    #[arg(long, value_name = "IP")]
    address: Vec<IpAddr>,
    /// Output format (`json`: one object listing each decision).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The target, e.g. "GET https://api.example.com/v1/items".
    target: String,
}

/// Where decisions go: printed as they come (text) or gathered into one
/// JSON document printed at the end.
struct Out {
    format: Format,
    decisions: Vec<serde_json::Value>,
}

impl Out {
    fn new(format: Format) -> Self {
        Out {
            format,
            decisions: Vec::new(),
        }
    }

    /// Prints the JSON document (json), then exits 0 when `allowed`, else 1.
    fn finish(self, allowed: bool) -> ExitCode {
        if self.format == Format::Json {
            let doc = serde_json::json!({ "allowed": allowed, "decisions": self.decisions });
            println!("{doc}");
        }
        if allowed {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(Code::Denied)
        }
    }
}

pub(super) fn exec(args: &Args) -> ExitCode {
    let policy = match load_policy(&args.policy) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let guest = match select_guest(&policy, args.guest.as_deref()) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let addresses = &args.address;
    let text = args.target.trim();
    let mut out = Out::new(args.format);
    if let Some((action, subject)) = split_bus_url(text) {
        return explain_bus(&policy, guest, action, subject, out);
    }
    if let Some((broker, topic)) = split_mqtt_url(text) {
        return explain_mqtt(&policy, guest, &broker, topic, out);
    }
    let (method, url) = match text.split_once(char::is_whitespace) {
        Some((m, u)) => (Some(m), u.trim()),
        None => (None, text),
    };
    let target = match Target::parse(url) {
        Ok(t) => match method {
            Some(m) => t.with_method(m),
            None => t,
        },
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(Code::Usage);
        }
    };
    let mut allowed = print_decision(
        &mut out,
        &policy,
        guest,
        &target.describe(),
        guest.check(&target),
    );
    // `run` checks an IP literal's connection like any resolved address, so
    // explain does too: both judge the same raw target the same way. A
    // request already refused never dials, so there is no address to judge.
    let literal = target.host.ip().filter(|ip| !addresses.contains(ip));
    let dialled = if allowed { addresses.as_slice() } else { &[] };
    let literal = literal.filter(|_| allowed);
    for ip in dialled.iter().chain(literal.as_ref()) {
        let label = format!("{target} via {ip}");
        allowed &= print_decision(
            &mut out,
            &policy,
            guest,
            &label,
            guest.check_address(&target, *ip),
        );
    }
    out.finish(allowed)
}

fn print_decision(
    out: &mut Out,
    policy: &Policy,
    guest: &GuestPolicy,
    label: &str,
    decision: Decision,
) -> bool {
    let allowed = matches!(decision, Decision::Allow(_));
    if out.format == Format::Json {
        let rule = decision.rule().map(
            |r| serde_json::json!({ "line": r.line, "text": r.text, "list": r.list.to_string() }),
        );
        let denial = decision.denial();
        out.decisions.push(serde_json::json!({
            "target": label,
            "allowed": allowed,
            "rule": rule,
            "reason": denial.map(|d| d.reason.clone()),
            "suggestion": denial.and_then(|d| d.suggestion.clone()),
        }));
        return allowed;
    }
    let out = &mut std::io::stdout().lock();
    let _ = match decision {
        Decision::Allow(rule) => writeln!(
            out,
            "allowed: {label}\n  by rule at {}:{}: {}",
            policy.source(),
            rule.line,
            rule.text
        ),
        Decision::Deny(denial) => {
            let _ = writeln!(out, "denied: {label}\n  reason: {}", denial.reason);
            if let Some(rule) = &denial.rule {
                let _ = writeln!(
                    out,
                    "  by rule at {}:{}: {}",
                    policy.source(),
                    rule.line,
                    rule.text
                );
            }
            match &denial.suggestion {
                Some(line) => writeln!(
                    out,
                    "  to allow it, add to `allow` in [guest.{}] of {}:\n    {line}",
                    guest.name,
                    policy.source()
                ),
                None => Ok(()),
            }
        }
    };
    allowed
}

/// Explains a bus action: publishing on a concrete topic, subscribing to a
/// pattern, or both for `bus://`.
fn explain_bus(
    policy: &Policy,
    guest: &GuestPolicy,
    action: BusAction,
    subject: &str,
    mut out: Out,
) -> ExitCode {
    let mut allowed = true;
    // `bus://PATTERN` with wildcards asks only about subscribing: a publish
    // is always on a concrete topic.
    let concrete = !subject.contains(['*', '>']);
    if action == BusAction::Publish || (action == BusAction::Both && concrete) {
        let topic = match Subject::topic(subject) {
            Ok(t) => t,
            Err(err) => {
                eprintln!("sandnet: {err}");
                return ExitCode::from(Code::Usage);
            }
        };
        let label = format!("bus-publish://{topic}");
        allowed &= print_decision(
            &mut out,
            policy,
            guest,
            &label,
            guest.check_bus_publish(&topic),
        );
    }
    if action.covers(BusAction::Subscribe) {
        let pattern = match Subject::pattern(subject) {
            Ok(p) => p,
            Err(err) => {
                eprintln!("sandnet: {err}");
                return ExitCode::from(Code::Usage);
            }
        };
        let label = format!("bus-subscribe://{pattern}");
        allowed &= print_decision(
            &mut out,
            policy,
            guest,
            &label,
            guest.check_bus_subscribe(&pattern),
        );
    }
    out.finish(allowed)
}

/// Splits `mqtt-publish://host:1883/sensors/x` into the broker target
/// (`mqtt://host:1883`; `mqtts` kept) and the topic, when the text is an
/// MQTT URL with a topic. The action is the scheme's.
fn split_mqtt_url(text: &str) -> Option<((Scheme, String), &str)> {
    let (scheme_text, rest) = text.split_once("://")?;
    let scheme = Scheme::parse(scheme_text).filter(|s| s.is_mqtt())?;
    let authority_end = match rest.strip_prefix('[') {
        Some(v6) => v6.find(']').map(|i| i + 2)?,
        None => 0,
    };
    let slash = authority_end + rest[authority_end..].find('/')?;
    let transport = if scheme == Scheme::Mqtts {
        "mqtts"
    } else {
        "mqtt"
    };
    Some((
        (scheme, format!("{transport}://{}", &rest[..slash])),
        &rest[slash + 1..],
    ))
}

/// Answers for an MQTT broker and topic: connecting, then publishing and/or
/// subscribing as the scheme asks.
fn explain_mqtt(
    policy: &Policy,
    guest: &GuestPolicy,
    (scheme, broker_url): &(Scheme, String),
    topic: &str,
    mut out: Out,
) -> ExitCode {
    let broker = match Target::parse(broker_url) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(Code::Usage);
        }
    };
    let filter = match TopicFilter::filter(topic) {
        Ok(f) => f,
        Err(err) => {
            eprintln!("sandnet: {err}");
            return ExitCode::from(Code::Usage);
        }
    };
    // A filter with wildcards asks only about subscribing.
    let publish = scheme.grants_mqtt(MqttAction::Publish) && !filter.has_wildcard();
    let subscribe = scheme.grants_mqtt(MqttAction::Subscribe);
    if !publish && !subscribe {
        eprintln!(
            "sandnet: MQTT topic \"{filter}\" contains a wildcard; publish on a concrete topic"
        );
        return ExitCode::from(Code::Usage);
    }
    let mut allowed = print_decision(
        &mut out,
        policy,
        guest,
        &broker.describe(),
        guest.check(&broker),
    );
    if publish {
        let label = format!("mqtt-publish {broker}/{filter}");
        let decision = guest.check_mqtt_publish(&broker, &filter);
        allowed &= print_decision(&mut out, policy, guest, &label, decision);
    }
    if subscribe {
        let label = format!("mqtt-subscribe {broker}/{filter}");
        let decision = guest.check_mqtt_subscribe(&broker, &filter);
        allowed &= print_decision(&mut out, policy, guest, &label, decision);
    }
    out.finish(allowed)
}
