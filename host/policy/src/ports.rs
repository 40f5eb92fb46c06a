//! The port part of a rule: the scheme default, a list, inclusive ranges, or `*`.

use std::fmt;

use crate::error::RuleError;

/// Which ports a rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortPattern {
    /// `*`: every port.
    Any,
    /// A list of inclusive ranges; a single port `p` is `(p, p)`.
    List(Vec<(u16, u16)>),
}

const HINT: &str = "expected a port, a list like 80,8080, an inclusive range like 1000-2000, or *";

impl PortPattern {
    /// Parses the text after `host:` (`443`, `80,8080`, `1000-2000`, `80,9000-9100`, `*`).
    pub fn parse(text: &str) -> Result<PortPattern, RuleError> {
        let invalid = |reason: String| RuleError::InvalidPort {
            ports: text.to_string(),
            reason,
        };
        if text == "*" {
            return Ok(PortPattern::Any);
        }
        let mut list = Vec::new();
        for item in text.split(',') {
            let (lo, hi) = match item.split_once('-') {
                Some((lo, hi)) => (port(lo), port(hi)),
                None => (port(item), port(item)),
            };
            let (Some(lo), Some(hi)) = (lo, hi) else {
                return Err(invalid(HINT.into()));
            };
            if lo > hi {
                return Err(invalid(format!(
                    "the range {lo}-{hi} is backwards (write {hi}-{lo})"
                )));
            }
            list.push((lo, hi));
        }
        Ok(PortPattern::List(list))
    }

    /// One port.
    pub fn single(port: u16) -> PortPattern {
        PortPattern::List(vec![(port, port)])
    }

    /// Whether `port` is allowed.
    pub fn matches(&self, port: u16) -> bool {
        match self {
            PortPattern::Any => true,
            PortPattern::List(list) => list.iter().any(|&(lo, hi)| (lo..=hi).contains(&port)),
        }
    }

    /// Whether a bind or listen on `port` is allowed. Port 0 asks the OS for
    /// any free port, which may lie outside every range of the rule, so it is
    /// allowed only by `*` or by the port `0` on its own (a range starting at
    /// 0 does not allow it); any other port as [`PortPattern::matches`].
    pub fn matches_bind(&self, port: u16) -> bool {
        match (self, port) {
            (PortPattern::List(list), 0) => list.contains(&(0, 0)),
            _ => self.matches(port),
        }
    }
}

/// A decimal port number: digits only, at most 65535.
fn port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for PortPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortPattern::Any => f.write_str("*"),
            PortPattern::List(list) => {
                for (i, (lo, hi)) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if lo == hi {
                        write!(f, "{lo}")?;
                    } else {
                        write!(f, "{lo}-{hi}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let cases = [
            ("80", 80, true),
            ("80", 8080, false),
            ("80,8080", 8080, true),
            ("80,8080", 8081, false),
            ("1000-2000", 1000, true),
            ("1000-2000", 2000, true),
            ("1000-2000", 1500, true),
            ("1000-2000", 999, false),
            ("1000-2000", 2001, false),
            ("80,9000-9100", 9050, true),
            ("*", 1, true),
            ("*", 65535, true),
            ("0", 0, true),
        ];
        for (input, port, want) in cases {
            let p = PortPattern::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(p.matches(port), want, "{input:?} vs {port}");
            assert_eq!(p.to_string(), input, "{input:?} round trip");
        }
    }

    #[test]
    fn bind_matching() {
        // (ports, bind port, allowed)
        let cases = [
            ("0", 0, true),
            ("0,8080", 0, true),
            ("*", 0, true),
            ("0-100", 0, false),
            ("0-1024", 0, false),
            ("0-100", 50, true),
            ("8080,0-100", 0, false),
            ("8080", 0, false),
            ("0", 1, false),
            ("8080", 8080, true),
        ];
        for (input, port, want) in cases {
            let p = PortPattern::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(p.matches_bind(port), want, "{input:?} vs bind {port}");
        }
    }

    #[test]
    fn rejects() {
        let cases = [
            ("", format!("invalid port \"\": {HINT}")),
            ("65536", format!("invalid port \"65536\": {HINT}")),
            ("http", format!("invalid port \"http\": {HINT}")),
            ("80,", format!("invalid port \"80,\": {HINT}")),
            ("-80", format!("invalid port \"-80\": {HINT}")),
            ("+80", format!("invalid port \"+80\": {HINT}")),
            (
                "2000-1000",
                "invalid port \"2000-1000\": the range 2000-1000 is backwards (write 1000-2000)"
                    .into(),
            ),
        ];
        for (input, want) in cases {
            let got = PortPattern::parse(input).map_err(|e| e.to_string());
            assert_eq!(got, Err(want), "{input:?}");
        }
    }
}
