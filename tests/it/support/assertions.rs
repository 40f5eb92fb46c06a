//! How the tests assert: `check!` (an assertion that prints the whole run),
//! [`assert_denied`] (the one shape of a denial) and [`eventually`].

use std::fmt;
use std::time::{Duration, Instant};

/// Asserts `cond`, showing `what` (an `Output` or `LibRun`) when it fails.
macro_rules! check {
    ($cond:expr, $what:expr $(,)?) => {
        assert!($cond, "assertion failed: {}\n{}", stringify!($cond), $what)
    };
    ($cond:expr, $what:expr, $($msg:tt)+) => {
        assert!($cond, "assertion failed: {}: {}\n{}", stringify!($cond), format!($($msg)+), $what)
    };
}
pub(crate) use check;

/// A finished guest run, through the CLI or the library.
pub trait Finished: fmt::Display {
    /// The exit code (`None` when the run did not exit normally).
    fn code(&self) -> Option<i32>;
    /// What the guest printed on stdout.
    fn stdout(&self) -> &str;
    /// What the guest (and, through the CLI, sandnet) printed on stderr.
    fn stderr(&self) -> &str;
}

/// Who reports a denial, and so how it reads on stderr.
#[derive(Debug, Clone, Copy)]
pub enum Denial<'a> {
    /// A `sandnet:net` guest named `PROG`: `PROG: denied: REASON`, and the
    /// line to add on a second line `hint: add to the policy's allow list: LINE`.
    Guest(&'a str),
    /// A standard-WASI guest, which sees only an error code: stderr holds
    /// this text (sandnet's `wasi:http request to URL denied: REASON; to allow
    /// it, add LINE ...`, or what the guest printed) and `add LINE`.
    Wasi(&'a str),
}

/// The run was refused before it printed anything: exit 1, empty stdout, the
/// denial on stderr and, when `hint` is given, that exact policy line to add.
#[track_caller]
pub fn assert_denied(run: &impl Finished, by: Denial<'_>, hint: Option<&str>) {
    assert_denied_after(run, "", by, hint);
}

/// As [`assert_denied`], after the guest printed `stdout` (a denial later on,
/// such as a redirect to an ungranted target).
#[track_caller]
pub fn assert_denied_after(run: &impl Finished, stdout: &str, by: Denial<'_>, hint: Option<&str>) {
    check!(run.code() == Some(1), run, "a denial exits 1");
    check!(run.stdout() == stdout, run, "expected stdout {stdout:?}");
    let stderr = run.stderr();
    match by {
        Denial::Guest(prog) => {
            check!(
                stderr.starts_with(&format!("{prog}: denied: ")),
                run,
                "the guest should print its name and the denial"
            );
            if let Some(line) = hint {
                check!(
                    stderr.contains(&format!("\nhint: add to the policy's allow list: {line}")),
                    run,
                    "the hint should name the policy line {line}"
                );
            }
        }
        Denial::Wasi(what) => {
            check!(stderr.contains(what), run, "stderr should say {what:?}");
            if let Some(line) = hint {
                check!(
                    stderr.contains(&format!("add {line} ")),
                    run,
                    "the line to add should be {line}"
                );
            }
        }
    }
}

/// Waits until `cond` holds, polling every few milliseconds, up to `limit`.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5)); // polling interval
    }
    cond()
}

/// The guest was refused because `name` resolved to an address the policy does
/// not grant, and was not told the address: its own `PROG: denied:` line
/// names the name and never `ip` (the operator's log and audit keep both).
#[track_caller]
pub fn assert_address_withheld(run: &impl Finished, prog: &str, name: &str, ip: &str) {
    check!(run.code() == Some(1), run, "a denial exits 1");
    let stderr = run.stderr();
    let prefix = format!("{prog}: denied: ");
    let Some(line) = stderr.lines().find(|l| l.starts_with(&prefix)) else {
        panic!("no {prefix:?} line on stderr\n{run}");
    };
    check!(
        line.contains(&format!(
            "{name} resolved to an address the policy does not grant"
        )),
        run,
        "the guest should learn that {name} was refused"
    );
    let guest_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains(" WARN ") && !l.contains("sandnet::"))
        .collect();
    check!(
        !guest_lines.iter().any(|l| l.contains(ip)),
        run,
        "the guest must not learn that {name} resolved to {ip}"
    );
}

/// As [`assert_denied`] with the hint `"target"` (the target as a policy line),
/// and the server never saw a connection (`connections` is its count).
#[track_caller]
pub fn assert_denied_unreached(
    run: &impl Finished,
    by: Denial<'_>,
    target: &str,
    connections: usize,
) {
    assert_denied(run, by, Some(&format!("\"{target}\"")));
    check!(
        connections == 0,
        run,
        "a denied request must not reach the server"
    );
}
