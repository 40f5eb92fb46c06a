//! Credentials a rule asks the host to add to matching requests:
//! `headers = { authorization = { env = "TOKEN", format = "Bearer {}" } }`.
//!
//! Only where the value comes from is written in the policy; the host reads it
//! at run start and the guest never sees it.

use std::fmt;
use std::path::PathBuf;

/// Headers the host manages itself (framing, the WebSocket handshake), which
/// a secret may not replace.
const MANAGED_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "last-event-id",
];

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// The host's environment variable of this name (`env = "VAR"`).
    Env(String),
    /// The contents of this file, one trailing newline dropped (`file = "path"`,
    /// relative to the policy file).
    File(PathBuf),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// How a secret's value becomes the header value: `format` with its one `{}`
/// replaced by the value (`"Bearer {}"`); the default is the value alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SecretFormat {
    prefix: String,
    suffix: String,
}

impl SecretFormat {
    /// Parses a format: exactly one `{}`, and only visible ASCII and spaces
    /// around it (a header value cannot hold control characters).
    pub fn parse(text: &str) -> Result<SecretFormat, String> {
        let Some((prefix, suffix)) = text.split_once("{}") else {
            return Err(format!(
                "format \"{text}\" has no \"{{}}\" where the secret goes (e.g. \"Bearer {{}}\")"
            ));
        };
        if suffix.contains("{}") {
            return Err(format!(
                "format \"{text}\" has more than one \"{{}}\"; write it once"
            ));
        }
        if !text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(format!(
                "format {text:?} holds a character a header value cannot carry (use visible ASCII and spaces)"
            ));
        }
        Ok(SecretFormat {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The header value for `secret`.
    pub fn apply(&self, secret: &str) -> String {
        let mut value = String::with_capacity(self.prefix.len() + secret.len() + self.suffix.len());
        value.push_str(&self.prefix);
        value.push_str(secret);
        value.push_str(&self.suffix);
        value
    }
}

/// One header a rule injects: its name, where its value comes from, how it is formatted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretHeader {
    /// The header name, lowercase.
    pub name: String,
    /// Where the value comes from.
    pub source: SecretSource,
    /// How the value is written into the header.
    pub format: SecretFormat,
    /// The policy line the header is declared on.
    pub line: u32,
}

/// Checks a header name for a secret and returns it lowercase: an HTTP token,
/// not one the host manages.
pub fn secret_header_name(name: &str) -> Result<String, String> {
    if !crate::target::is_token(name) {
        return Err(format!(
            "invalid header name \"{name}\" in headers (a header name is an HTTP token like \"authorization\")"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if MANAGED_HEADERS.contains(&lower.as_str()) || lower.starts_with("sec-websocket-") {
        return Err(format!(
            "header \"{name}\" is set by the host and cannot carry a secret; use a header like \"authorization\" or \"x-api-key\""
        ));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_put_the_secret_where_the_braces_are() {
        for (format, want) in [
            ("{}", "s3cr3t"),
            ("Bearer {}", "Bearer s3cr3t"),
            ("token={}; v=1", "token=s3cr3t; v=1"),
        ] {
            let parsed = SecretFormat::parse(format).map(|f| f.apply("s3cr3t"));
            assert_eq!(parsed.as_deref(), Ok(want), "{format:?}");
        }
        assert_eq!(SecretFormat::default().apply("x"), "x");
    }

    #[test]
    fn formats_without_one_brace_pair_or_with_control_characters_are_refused() {
        for (format, want) in [
            (
                "Bearer",
                "format \"Bearer\" has no \"{}\" where the secret goes (e.g. \"Bearer {}\")",
            ),
            (
                "{}{}",
                "format \"{}{}\" has more than one \"{}\"; write it once",
            ),
            (
                "Bearer {}\r\nX: y",
                "format \"Bearer {}\\r\\nX: y\" holds a character a header value cannot carry (use visible ASCII and spaces)",
            ),
        ] {
            assert_eq!(
                SecretFormat::parse(format).map(|_| ()),
                Err(want.to_owned()),
                "{format:?}"
            );
        }
    }

    #[test]
    fn header_names_are_tokens_the_host_does_not_manage() {
        assert_eq!(
            secret_header_name("Authorization").as_deref(),
            Ok("authorization")
        );
        assert_eq!(secret_header_name("X-Api-Key").as_deref(), Ok("x-api-key"));
        for (name, want) in [
            (
                "bad name",
                "invalid header name \"bad name\" in headers (a header name is an HTTP token like \"authorization\")",
            ),
            (
                "Host",
                "header \"Host\" is set by the host and cannot carry a secret; use a header like \"authorization\" or \"x-api-key\"",
            ),
            (
                "sec-websocket-key",
                "header \"sec-websocket-key\" is set by the host and cannot carry a secret; use a header like \"authorization\" or \"x-api-key\"",
            ),
        ] {
            assert_eq!(secret_header_name(name), Err(want.to_owned()), "{name:?}");
        }
    }
}
