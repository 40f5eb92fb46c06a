//! TLS client configuration: webpki roots plus the CA bundle the policy names; TLS 1.2 minimum.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A rustls client config trusting the public webpki roots and, when given,
/// every certificate in the PEM file `ca_bundle`.
pub fn client_config(ca_bundle: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_bundle {
        let mut added = 0usize;
        let certs = CertificateDer::pem_file_iter(path)
            .with_context(|| format!("cannot read CA bundle {}", path.display()))?;
        for cert in certs {
            let cert = cert.with_context(|| {
                format!("CA bundle {} holds an unreadable PEM block", path.display())
            })?;
            roots.add(cert).with_context(|| {
                format!(
                    "CA bundle {} holds a certificate rustls rejects",
                    path.display()
                )
            })?;
            added += 1;
        }
        if added == 0 {
            bail!(
                "CA bundle {} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)",
                path.display()
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS provider rejects TLS 1.2/1.3")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
