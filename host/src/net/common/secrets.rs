//! Secrets a policy attaches to rules (`headers = { NAME = { env | file, format } }`):
//! read once when a run starts, then added by the host to the requests,
//! WebSocket handshakes and SSE requests their rule allows, after the policy check.
//!
//! The guest never holds a value: not in its environment, not in an error,
//! not in the audit log (which names the headers only). Values are zeroized
//! when dropped and print as `<secret>`.

use std::collections::HashMap;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};
use sandnet_policy::{GuestPolicy, Rule, SecretHeader, SecretSource};
use zeroize::Zeroizing;

use super::refs::PolicyRefError;
use crate::error::NetError;

/// Most bytes a secret may hold (a file source larger than this is refused).
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// One secret's value: zeroized on drop, never printed.
struct SecretValue(Zeroizing<String>);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// The values of every secret source a guest's policy names.
#[derive(Debug, Default)]
pub struct SecretStore {
    values: HashMap<SecretSource, SecretValue>,
}

impl SecretStore {
    /// Reads every secret source of `policy`'s allow rules: a missing
    /// environment variable or unreadable file is an error naming the policy line.
    pub fn load(policy: &GuestPolicy) -> Result<SecretStore, PolicyRefError> {
        let mut values = HashMap::new();
        for header in policy.secret_headers() {
            if values.contains_key(&header.source) {
                continue;
            }
            let value = read(header).map_err(|message| PolicyRefError {
                file: policy.source.clone(),
                line: header.line,
                message,
            })?;
            values.insert(header.source.clone(), value);
        }
        Ok(SecretStore { values })
    }

    /// The headers `rule` injects, with their values.
    pub fn credentials(&self, rule: &Rule) -> Result<Credentials, NetError> {
        let mut headers = Vec::with_capacity(rule.secrets.len());
        for header in &rule.secrets {
            let unavailable = || {
                NetError::Connect(format!(
                    "the host has no value for the secret header \"{}\" its policy attaches to this target; ask the operator",
                    header.name
                ))
            };
            let value = self.values.get(&header.source).ok_or_else(unavailable)?;
            let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| unavailable())?;
            let text = Zeroizing::new(header.format.apply(&value.0));
            let mut value = HeaderValue::from_str(&text).map_err(|_| unavailable())?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        Ok(Credentials(headers))
    }
}

/// Reads one secret: an environment variable, or a file without one trailing newline.
fn read(header: &SecretHeader) -> Result<SecretValue, String> {
    let text = match &header.source {
        SecretSource::Env(var) => std::env::var(var).map_err(|e| match e {
            std::env::VarError::NotPresent => format!(
                "secret header \"{}\": environment variable {var} is not set (export it before starting sandnet)",
                header.name
            ),
            std::env::VarError::NotUnicode(_) => format!(
                "secret header \"{}\": environment variable {var} is not valid UTF-8",
                header.name
            ),
        })?,
        SecretSource::File(path) => {
            let shown = path.display();
            let meta = std::fs::metadata(path).map_err(|e| {
                format!(
                    "secret header \"{}\": cannot read file {shown}: {e} (paths are relative to the policy file)",
                    header.name
                )
            })?;
            if meta.len() > MAX_SECRET_BYTES {
                return Err(format!(
                    "secret header \"{}\": file {shown} holds {} bytes, more than a secret may ({MAX_SECRET_BYTES})",
                    header.name,
                    meta.len()
                ));
            }
            let mut text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "secret header \"{}\": cannot read file {shown}: {e}",
                    header.name
                )
            })?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            text
        }
    };
    let text = Zeroizing::new(text);
    if text.is_empty() {
        return Err(format!(
            "secret header \"{}\": {} is empty",
            header.name, header.source
        ));
    }
    if !text
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Err(format!(
            "secret header \"{}\": {} holds a character a header value cannot carry (control characters or non-ASCII)",
            header.name, header.source
        ));
    }
    Ok(SecretValue(text))
}

/// The secret headers one granted request carries. Prints and compares by
/// header name only.
#[derive(Clone, Default)]
pub struct Credentials(Vec<(HeaderName, HeaderValue)>);

impl Credentials {
    /// The header names, for the audit log.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|(name, _)| name.to_string()).collect()
    }

    /// Adds the secret headers to `headers`, refusing a request where the
    /// guest set one of them itself (it would otherwise learn nothing, but a
    /// guest header silently replaced or doubled is worse than a clear error).
    pub fn inject(&self, headers: &mut HeaderMap) -> Result<(), NetError> {
        if let Some((name, _)) = self.0.iter().find(|(name, _)| headers.contains_key(name)) {
            return Err(NetError::InvalidArgument(format!(
                "header \"{name}\" is set by the host from its policy for this target; remove it from the request"
            )));
        }
        for (name, value) in &self.0 {
            headers.insert(name.clone(), value.clone());
        }
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name.as_str(), "<secret>")))
            .finish()
    }
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        self.names() == other.names()
    }
}

impl Eq for Credentials {}

#[cfg(test)]
mod tests {
    use super::*;
    use sandnet_policy::Policy;

    fn store(text: &str) -> (GuestPolicy, Result<SecretStore, String>) {
        let policy = Policy::parse(text, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        let guest = policy.guests()[0].clone();
        let store = SecretStore::load(&guest).map_err(|e| e.to_string());
        (guest, store)
    }

    #[test]
    fn a_file_secret_is_injected_formatted_and_never_printed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t\n").unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "allow = [{{ rule = \"https://x.example\", headers = {{ authorization = {{ file = {:?}, format = \"Bearer {{}}\" }} }} }}]\n",
            path.display().to_string()
        );
        let (guest, store) = store(&text);
        let store = store.unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{store:?}").contains("s3cr3t"), "{store:?}");
        let creds = store
            .credentials(&guest.allow[0])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{creds:?}"), "{\"authorization\": \"<secret>\"}");
        let mut headers = HeaderMap::new();
        creds.inject(&mut headers).unwrap_or_else(|e| panic!("{e}"));
        let sent = headers.get("authorization").map(HeaderValue::as_bytes);
        assert_eq!(sent, Some(&b"Bearer s3cr3t"[..]));
        let mut guest_set = HeaderMap::new();
        guest_set.insert("Authorization", HeaderValue::from_static("mine"));
        assert_eq!(
            creds.inject(&mut guest_set).map_err(|e| e.to_string()),
            Err("invalid argument: header \"authorization\" is set by the host from its policy for this target; remove it from the request".to_owned())
        );
    }

    #[test]
    fn missing_or_unusable_sources_name_the_line() {
        let var = "SANDNET_TEST_SECRET_THAT_IS_NEVER_SET";
        let (_, err) = store(&format!(
            "allow = [\n{{ rule = \"https://x.example\", headers = {{ x-key = {{ env = \"{var}\" }} }} }}]\n"
        ));
        assert_eq!(
            err.err().as_deref(),
            Some(
                "p.toml:2: secret header \"x-key\": environment variable SANDNET_TEST_SECRET_THAT_IS_NEVER_SET is not set (export it before starting sandnet)"
            )
        );
        let (_, err) = store(
            "allow = [{ rule = \"https://x.example\", headers = { x-key = { file = \"/nonexistent/sandnet/key\" } } }]\n",
        );
        let err = err.err().unwrap_or_default();
        assert!(
            err.starts_with(
                "p.toml:1: secret header \"x-key\": cannot read file /nonexistent/sandnet/key: "
            ),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("bad");
        std::fs::write(&path, "a\nb").unwrap_or_else(|e| panic!("{e}"));
        let (_, err) = store(&format!(
            "allow = [{{ rule = \"https://x.example\", headers = {{ x-key = {{ file = {:?} }} }} }}]\n",
            path.display().to_string()
        ));
        assert_eq!(
            err.err(),
            Some(format!(
                "p.toml:1: secret header \"x-key\": file {} holds a character a header value cannot carry (control characters or non-ASCII)",
                path.display()
            ))
        );
    }
}
