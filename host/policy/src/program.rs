//! The program a guest table names for `sandnet up`: its component, arguments,
//! restart rule and instance count (`component`, `args`, `restart`, `instances`).

use std::path::PathBuf;
use std::time::Duration;

/// Most instances one guest table may ask for (`instances`).
pub const MAX_INSTANCES: u32 = 1024;

/// What `sandnet up` runs for a guest table that names a `component`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The component file, relative to the policy file's directory when read
    /// with [`Policy::from_file`](crate::Policy::from_file).
    pub component: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// When a stopped instance is started again.
    pub restart: Restart,
    /// How many copies run, each in its own store (1 to [`MAX_INSTANCES`]).
    pub instances: u32,
}

/// `restart`: when `sandnet up` starts a stopped instance again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Never: the instance stays stopped (the default, like `docker compose`'s "no").
    #[default]
    Never,
    /// After it ends with a non-zero status, a trap or a limit.
    OnFailure,
    /// Whenever it ends, for whatever reason.
    Always,
}

impl Restart {
    /// The policy file spelling.
    pub const NAMES: [&'static str; 3] = ["never", "on-failure", "always"];

    /// Reads the policy file spelling.
    pub fn parse(text: &str) -> Option<Restart> {
        match text {
            "never" => Some(Restart::Never),
            "on-failure" => Some(Restart::OnFailure),
            "always" => Some(Restart::Always),
            _ => None,
        }
    }

    /// The policy file spelling.
    pub fn name(self) -> &'static str {
        match self {
            Restart::Never => "never",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        }
    }

    /// Whether an instance that ended (`failed` says how) is started again.
    pub fn restarts(self, failed: bool) -> bool {
        match self {
            Restart::Never => false,
            Restart::OnFailure => failed,
            Restart::Always => true,
        }
    }
}

/// Exponential backoff between restarts: 1 s after the first stop, doubling
/// up to [`Backoff::CAP`]; an instance that ran for [`Backoff::RESET_AFTER`]
/// before it stopped starts again from the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The first delay.
    pub const FIRST: Duration = Duration::from_secs(1);
    /// The longest delay.
    pub const CAP: Duration = Duration::from_secs(60);
    /// A run at least this long resets the backoff.
    pub const RESET_AFTER: Duration = Duration::from_secs(60);

    /// The delay before the next start, given how long the run that just
    /// ended lasted; advances the backoff.
    pub fn next_delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= Self::RESET_AFTER {
            self.failures = 0;
        }
        let delay = Self::FIRST
            .checked_mul(1u32 << self.failures.min(16))
            .map_or(Self::CAP, |d| d.min(Self::CAP));
        self.failures = self.failures.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_rules() {
        assert!(!Restart::Never.restarts(true));
        assert!(Restart::OnFailure.restarts(true));
        assert!(!Restart::OnFailure.restarts(false));
        assert!(Restart::Always.restarts(false));
        for name in Restart::NAMES {
            assert_eq!(Restart::parse(name).map(Restart::name), Some(name));
        }
        assert_eq!(Restart::parse("on_failure"), None);
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets_after_a_long_run() {
        let mut backoff = Backoff::default();
        let quick = Duration::from_millis(10);
        let delays: Vec<u64> = (0..9)
            .map(|_| backoff.next_delay(quick).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.next_delay(Backoff::RESET_AFTER), Backoff::FIRST);
        assert_eq!(backoff.next_delay(quick), Duration::from_secs(2));
    }
}
