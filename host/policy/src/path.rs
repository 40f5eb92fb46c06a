//! URL path normalisation and the path part of a rule (exact or `prefix*`).
//!
//! Paths are compared in a canonical form: percent-escapes decoded except for
//! `%2F` (`/`), `%5C` (`\`), `%3B` (`;`) and `%25` (`%`), a fixed set of bytes
//! re-encoded (uppercase hex), `\` read as `/`, and dot segments removed — so
//! `/v1/../admin` and `/v1/%2e%2e/admin` are both `/admin`. The canonical form
//! is also the form to send: it is visible ASCII only (every other byte, and
//! `"#<>?[]^`{|}`, percent-encoded), valid as an HTTP request path, and
//! [`normalize`] leaves it unchanged. [`Target::request_path`](crate::Target::request_path)
//! returns it.
//!
//! Servers read some paths differently: some decode `%2F` into a path
//! separator, some merge repeated slashes (nginx `merge_slashes`), and
//! Tomcat and Jetty drop `;params` from each segment (`/public/..;/admin` is
//! `/admin` to them). A path is therefore read two ways: as it is, and
//! leniently (the second reading decodes `%2F`/`%5C`/`%3B`, drops `;params`
//! from each segment, collapses repeated slashes and removes dot segments
//! again). An allow rule must match **both** readings and a deny rule matches
//! if **either** does (an allow rule with an exact path that itself spells
//! `%2F`, `%5C` or `;` is the one exception: it names that resource
//! literally). So `/v1/..%2Fadmin` and `/v1/..;/admin` are not allowed by
//! `/v1/*`, and `/v1/admin%2Fusers`, `/v1//admin` and `/v1/admin;x/users`
//! are caught by a deny rule `/v1/admin/*`.

use std::fmt;

use crate::error::RuleError;

/// Bytes that stay percent-encoded in the canonical form, whatever the input did.
fn must_encode(b: u8) -> bool {
    b <= 0x20 || b >= 0x7f || b"\"#<>?`{}^|[]".contains(&b)
}

fn hex(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

fn push_encoded(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(DIGITS[usize::from(b >> 4)]));
    out.push(char::from(DIGITS[usize::from(b & 0xf)]));
}

/// The canonical form of a path (see the module docs). An empty input gives `/`.
pub fn normalize(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len() + 1);
    if !raw.starts_with('/') && !raw.starts_with('\\') {
        out.push('/');
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            let v = (hi << 4) | lo;
            if v == b'/' || v == b'\\' || v == b';' || v == b'%' || must_encode(v) {
                push_encoded(&mut out, v);
            } else {
                out.push(char::from(v));
            }
            i += 3;
            continue;
        }
        match b {
            b'\\' => out.push('/'),
            b'%' => push_encoded(&mut out, b'%'),
            _ if must_encode(b) => push_encoded(&mut out, b),
            _ => out.push(char::from(b)),
        }
        i += 1;
    }
    remove_dot_segments(&out)
}

/// RFC 3986 §5.2.4 for an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if i == last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// The second reading of a canonical path: encoded slashes and backslashes
/// become separators, `;params` leave each segment (an encoded `;` too),
/// repeated slashes collapse, dot segments go. `None` when it equals the
/// first reading.
pub fn lenient_reading(canonical: &str) -> Option<String> {
    if reads_only_one_way(canonical) {
        return None;
    }
    lenient_reading_of(canonical)
}

/// Whether `canonical` has nothing a second reading could change: it starts
/// with `/` and holds no `%`, `;`, `//` or `/.` (checked on every request, so
/// the common path skips the allocations of [`lenient_reading_of`]).
pub(crate) fn reads_only_one_way(canonical: &str) -> bool {
    canonical.starts_with('/')
        && !canonical.contains(['%', ';'])
        && !canonical.contains("//")
        && !canonical.contains("/.")
}

/// [`lenient_reading`] worked out in full.
pub(crate) fn lenient_reading_of(canonical: &str) -> Option<String> {
    // Servers that decode twice read `%252F` as `/` and `%2561` as `a`.
    let once = if canonical.contains("%25") {
        normalize(&decode_escaped_percent(canonical))
    } else {
        canonical.to_string()
    };
    let decoded = once
        .replace("%2F", "/")
        .replace("%5C", "/")
        .replace("%3B", ";");
    let stripped: Vec<&str> = decoded
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or(""))
        .collect();
    let stripped = stripped.join("/");
    let mut collapsed = String::with_capacity(stripped.len());
    for c in stripped.chars() {
        if c == '/' && collapsed.ends_with('/') {
            continue;
        }
        collapsed.push(c);
    }
    let lenient = remove_dot_segments(&collapsed);
    (lenient != canonical).then_some(lenient)
}

/// `%25XX` (an escaped `%` before two hex digits) as `%XX`: one more round of decoding.
fn decode_escaped_percent(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_at = |j: usize| bytes.get(j).copied().and_then(hex).is_some();
        if path[i..].starts_with("%25") && hex_at(i + 3) && hex_at(i + 4) {
            out.push('%');
            i += 3;
            continue;
        }
        let len = path[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&path[i..i + len]);
        i += len;
    }
    out
}

/// The path part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// No path in the rule: any path.
    Any,
    /// `/status`: exactly this canonical path.
    Exact(String),
    /// `/v1/*`: paths starting with `/v1/`, and `/v1` itself. `/v1*` is a plain
    /// string prefix (also `/v1beta`).
    Prefix(String),
}

impl PathPattern {
    /// Parses the path of a rule (empty for none). `*` may only end it.
    pub fn parse(text: &str) -> Result<PathPattern, RuleError> {
        if text.is_empty() {
            return Ok(PathPattern::Any);
        }
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(RuleError::InvalidPath {
                path: text.to_string(),
                reason: "\"*\" may only end a path, as a prefix wildcard (e.g. /v1/*)".into(),
            });
        }
        let canonical = normalize(body);
        Ok(if prefix {
            PathPattern::Prefix(canonical)
        } else {
            PathPattern::Exact(canonical)
        })
    }

    fn matches_reading(&self, path: &str) -> bool {
        match self {
            PathPattern::Any => true,
            PathPattern::Exact(p) => p == path,
            PathPattern::Prefix(p) => {
                path.starts_with(p.as_str()) || p.strip_suffix('/').is_some_and(|dir| dir == path)
            }
        }
    }

    /// For allow rules: the canonical path matches in every reading. An exact
    /// path that itself spells `%2F`, `%5C`, `;` or `%3B` names that one
    /// resource, so the literal reading suffices for it.
    pub fn allows(&self, canonical: &str) -> bool {
        if let PathPattern::Exact(p) = self
            && ["%2F", "%5C", ";", "%3B"].iter().any(|s| p.contains(s))
        {
            return p == canonical;
        }
        self.matches_reading(canonical)
            && lenient_reading(canonical).is_none_or(|l| self.matches_reading(&l))
    }

    /// For deny rules: the canonical path matches in some reading.
    pub fn catches(&self, canonical: &str) -> bool {
        self.matches_reading(canonical)
            || lenient_reading(canonical).is_some_and(|l| self.matches_reading(&l))
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPattern::Any => Ok(()),
            PathPattern::Exact(p) => f.write_str(&p.replace('*', "%2A")),
            PathPattern::Prefix(p) => write!(f, "{}*", p.replace('*', "%2A")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/v1/data", "/v1/data"),
            ("/v1/../admin", "/admin"),
            ("/v1/./data", "/v1/data"),
            ("/v1/%2e%2e/admin", "/admin"),
            ("/v1/%2E%2E/admin", "/admin"),
            ("/../../etc", "/etc"),
            ("/v1/data/..", "/v1/"),
            ("/%61dmin", "/admin"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%5cb", "/a%5Cb"),
            ("/a\\b", "/a/b"),
            ("/a%25b", "/a%25b"),
            ("/a%zz", "/a%25zz"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/a b", "/a%20b"),
            ("/a%2Ab", "/a*b"),
            ("/a//b", "/a//b"),
            ("/a;b", "/a;b"),
            ("/a%3bb", "/a%3Bb"),
            ("/a[0]", "/a%5B0%5D"),
            ("/a%5b0%5d", "/a%5B0%5D"),
            ("/public/..;/admin", "/public/..;/admin"),
            ("/public\\..\\admin", "/admin"),
            ("/public//..//admin", "/public//admin"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn readings() {
        let cases = [
            ("/v1/data", None),
            ("/v1/..%2Fadmin", Some("/admin")),
            ("/v1/admin%2Fusers", Some("/v1/admin/users")),
            ("//admin/x", Some("/admin/x")),
            ("/a%5Cb", Some("/a/b")),
            ("/public/..;/admin", Some("/admin")),
            ("/public/..%3B/admin", Some("/admin")),
            ("/admin;jsessionid=1/x", Some("/admin/x")),
            ("/a/;x/b", Some("/a/b")),
            ("/a;x", Some("/a")),
            ("/public//admin", Some("/public/admin")),
            ("/v1/..%252Fadmin", Some("/admin")),
            ("/a/%2561", Some("/a/a")),
            ("/a%25zz", None),
            ("/100%25", None),
        ];
        for (input, want) in cases {
            assert_eq!(lenient_reading(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn matching() {
        // (pattern, canonical path, allowed by it as an allow rule, caught by it as a deny rule)
        let cases = [
            ("", "/anything", true, true),
            ("/v1/*", "/v1/data", true, true),
            ("/v1/*", "/v1/", true, true),
            ("/v1/*", "/v1", true, true),
            ("/v1/*", "/v1beta", false, false),
            ("/v1/*", "/v2/data", false, false),
            ("/v1*", "/v1beta", true, true),
            ("/v1/data", "/v1/data", true, true),
            ("/v1/data", "/v1/data/", false, false),
            ("/v1/data", "/v1/data/x", false, false),
            ("/", "/", true, true),
            ("/", "/x", false, false),
            ("/*", "/x", true, true),
            ("/v1/*", "/v1/..%2Fadmin", false, true),
            ("/v1/admin/*", "/v1/admin%2Fusers", false, true),
            ("/admin/*", "//admin/x", false, true),
            ("/api/projects/*", "/api/projects/ns%2Fproj", true, true),
            ("/%61pi/*", "/api/x", true, true),
            ("/v1/..%2Fsecret", "/v1/..%2Fsecret", true, true),
            ("/v1/..%2fsecret", "/v1/..%2Fsecret", true, true),
            ("/v1/..%2Fsecret", "/secret", false, false),
            ("/api/ns%2F*", "/api/ns%2F..%2F..%2Fadmin", false, true),
            // `;params`: Tomcat and Jetty read `/public/..;/admin` as `/admin`.
            ("/public/*", "/public/..;/admin", false, true),
            ("/admin/*", "/public/..;/admin", false, true),
            ("/admin/*", "/public/..%3B/admin", false, true),
            ("/admin/*", "/admin;x/users", false, true),
            ("/admin", "/admin;jsessionid=1", false, true),
            ("/api/*", "/api/items;v=2", true, true),
            ("/api;v=2", "/api;v=2", true, true),
            ("/api;v=2", "/api", false, false),
            // Empty segments: nginx merge_slashes reads `//admin` as `/admin`.
            ("/admin/*", "//admin", false, true),
            ("/admin/*", "/public//admin", false, false),
            ("/public/*", "/public//admin", true, true),
            ("/*", "//admin", true, true),
            ("/public/admin/*", "/public//admin/x", false, true),
            // Backslashes arrive as separators already; encoded ones are read both ways.
            ("/admin/*", "/a%5C..%5Cadmin/x", false, true),
            ("/a/*", "/a%5C..%5Cadmin/x", false, false),
            // Double decoding: `%252F` is `/` to a server that decodes twice.
            ("/v1/*", "/v1/..%252Fadmin", false, true),
            ("/admin/*", "/v1/..%252Fadmin", false, true),
            ("/admin/*", "/%2561dmin/x", false, true),
            ("/files/*", "/files/100%25", true, true),
        ];
        for (pattern, path, allows, catches) in cases {
            let p = PathPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e}"));
            assert_eq!(p.allows(path), allows, "allow {pattern:?} vs {path:?}");
            assert_eq!(p.catches(path), catches, "deny {pattern:?} vs {path:?}");
        }
    }

    #[test]
    fn rejects() {
        let cases = ["/a*/b", "/*/x", "/**"];
        for input in cases {
            let got = PathPattern::parse(input).map_err(|e| e.to_string());
            let want = format!(
                "invalid path \"{input}\": \"*\" may only end a path, as a prefix wildcard (e.g. /v1/*)"
            );
            assert_eq!(got, Err(want), "{input:?}");
        }
    }
}
