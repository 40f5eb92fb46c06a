//! What a guest's policy names outside itself — its `ca_bundle` and the
//! sources of its secret headers — read once before a run. `sandnet check`
//! reads them the same way, so it refuses exactly what `sandnet run` would.

use sandnet_policy::GuestPolicy;

use super::secrets::SecretStore;
use std::sync::Arc;

use super::pins::{NoPins, PinSource};
use super::tls::pinned_client_config;

/// A file or variable the policy names that cannot be used, with the policy line naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PolicyRefError {
    /// The policy file.
    pub file: String,
    /// The line that names the unusable thing.
    pub line: u32,
    /// What is wrong, with a hint.
    pub message: String,
}

/// What a run needs from outside its policy.
#[derive(Debug)]
pub struct PolicyRefs {
    /// The TLS client configuration (webpki roots plus `ca_bundle`).
    pub tls: rustls::ClientConfig,
    /// The values of the secret headers.
    pub secrets: SecretStore,
}

/// Reads the guest's `ca_bundle` and secret sources; the TLS configuration
/// checks the pins `pins` names (the guard: those of the policy in force).
pub fn load(policy: &GuestPolicy, pins: Arc<dyn PinSource>) -> Result<PolicyRefs, PolicyRefError> {
    let tls = pinned_client_config(policy.ca_bundle.as_deref(), pins).map_err(|err| PolicyRefError {
        file: policy.source.clone(),
        line: policy.ca_bundle_line,
        message: format!(
            "{err:#} (ca_bundle names a PEM file of CA certificates, relative to the policy file)"
        ),
    })?;
    let secrets = SecretStore::load(policy)?;
    Ok(PolicyRefs { tls, secrets })
}

/// Only checks that the guest's `ca_bundle` and secret sources are usable (`sandnet check`).
pub fn check(policy: &GuestPolicy) -> Result<(), PolicyRefError> {
    load(policy, Arc::new(NoPins)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandnet_policy::Policy;

    fn load_text(text: &str) -> Result<(), String> {
        let policy = Policy::parse(text, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        check(&policy.guests()[0]).map_err(|e| e.to_string())
    }

    #[test]
    fn an_unusable_ca_bundle_names_its_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "hello\n").unwrap_or_else(|e| panic!("{e}"));
        let text = format!(
            "allow = []\nca_bundle = {:?}\n",
            not_pem.display().to_string()
        );
        assert_eq!(
            load_text(&text),
            Err(format!(
                "p.toml:2: CA bundle {} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks) (ca_bundle names a PEM file of CA certificates, relative to the policy file)",
                not_pem.display()
            ))
        );
        let missing = dir.path().join("missing.pem");
        let text = format!("\n\nca_bundle = {:?}\n", missing.display().to_string());
        let err = load_text(&text).err().unwrap_or_default();
        assert!(
            err.starts_with(&format!(
                "p.toml:3: cannot read CA bundle {}: ",
                missing.display()
            )),
            "{err}"
        );
        assert_eq!(load_text("allow = []\n"), Ok(()));
    }
}
