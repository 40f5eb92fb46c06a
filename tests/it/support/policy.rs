//! Policy files for the CLI and parsed policies for the library.

use std::path::PathBuf;
use std::sync::Arc;

use sandnet::policy::{GuestPolicy, Policy};
use tempfile::TempDir;

/// A policy file in its own temporary directory.
#[derive(Debug)]
pub struct PolicyFile {
    /// Keeps the directory alive (tests put audit logs beside the policy).
    pub dir: TempDir,
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

impl PolicyFile {
    /// The path as a `&str` for command lines.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("temp paths are UTF-8")
    }
}

/// Writes `text` to `policy.toml` in a fresh temporary directory.
pub fn write_policy(text: &str) -> PolicyFile {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    PolicyFile {
        dir,
        path,
        text: text.to_owned(),
    }
}

/// A one-guest policy file: `[guest.t]` followed by `body`.
pub fn policy(body: &str) -> PolicyFile {
    write_policy(&guest_section(body))
}

/// A one-guest policy file allowing only `rule` (a URL, or `METHOD URL`).
pub fn allow_only(rule: &str) -> PolicyFile {
    policy(&format!("allow = [\"{rule}\"]"))
}

/// `[guest.t]` followed by `body`: the text of [`policy`], for the library.
pub fn guest_section(body: &str) -> String {
    format!("[guest.t]\n{body}\n")
}

/// Parses `text` and returns its only guest's policy, ready for a `RunRequest`.
pub fn guest_policy(text: &str) -> Arc<GuestPolicy> {
    let policy = Policy::parse(text, "test-policy.toml")
        .unwrap_or_else(|err| panic!("bad test policy: {err}\n{text}"));
    let guest = policy
        .guest(None)
        .unwrap_or_else(|err| panic!("bad test policy: {err}\n{text}"));
    Arc::new(guest.clone())
}

/// The 1-based line of `text` that contains `needle` (for asserting rule lines).
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} is not in the policy:\n{text}"))
}
