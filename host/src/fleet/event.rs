//! What a fleet reports about its guests: output lines, starts, stops with
//! their reason, restarts with their backoff, reloads.

use std::time::Duration;

use serde::Serialize;

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
}

/// One thing that happened to one instance of a guest (or to the fleet, with
/// an empty guest name).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The guest's name in the policy.
    pub guest: String,
    /// Which of its instances (0-based; always 0 with `instances = 1`).
    pub instance: u32,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    /// A line the guest wrote (without its newline; lines longer than
    /// [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) arrive in pieces).
    Output {
        /// stdout or stderr.
        stream: Stream,
        /// The text (invalid UTF-8 replaced).
        line: String,
    },
    /// The instance started (its component loaded and instantiated next).
    Started {
        /// How many times it was started before.
        restarts: u32,
    },
    /// The instance ended.
    Stopped {
        /// `exit`, `trap` (also a component that could not start: its
        /// message begins `cannot start:`), `wall_time`, `cpu_time`, `memory`,
        /// `stopped`, `stdout_closed`.
        reason: String,
        /// The process-style status (`sandnet run` would exit with it).
        status: i32,
        /// The full explanation.
        message: String,
        /// How long it ran.
        #[serde(serialize_with = "seconds")]
        ran_for: Duration,
    },
    /// The instance will start again after `delay`.
    Restarting {
        /// The backoff before the next start.
        #[serde(serialize_with = "seconds")]
        delay: Duration,
    },
    /// Its policy changed and applies to new requests and connections now.
    Rescoped {
        /// Live connections that the new policy no longer grants, now closed.
        revoked: usize,
    },
    /// A new policy file was refused; the old one stays in force.
    ReloadRefused {
        /// The `check` error.
        error: String,
    },
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventKind::Output { line, .. } => f.write_str(line),
            EventKind::Started { restarts: 0 } => f.write_str("started"),
            EventKind::Started { restarts } => write!(f, "started (restart {restarts})"),
            EventKind::Stopped {
                message, ran_for, ..
            } => write!(f, "{message} after {:.1}s", ran_for.as_secs_f64()),
            EventKind::Restarting { delay } => {
                write!(f, "restarting in {:.1}s", delay.as_secs_f64())
            }
            EventKind::Rescoped { revoked: 0 } => f.write_str("policy reloaded"),
            EventKind::Rescoped { revoked } => write!(
                f,
                "policy reloaded; closed {revoked} connection(s) it no longer grants"
            ),
            EventKind::ReloadRefused { error } => {
                write!(f, "new policy refused, the old one stays in force: {error}")
            }
        }
    }
}
