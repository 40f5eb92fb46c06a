//! TLS for every protocol: the client configuration (webpki roots plus the CA
//! bundle the policy names; TLS 1.2 minimum) and the one way a guarded socket is
//! wrapped in TLS (https is wrapped by hyper-rustls with the same configuration).

use std::path::Path;
use std::sync::Arc;

use crate::guard::GuardedSocket;
use anyhow::{Context, bail};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;

use super::pins::PinningVerifier;
pub use super::pins::{NoPins, PinSource, describe_tls_error, spki_pin};
use rustls_pki_types::ServerName;
use sandnet_policy::{Host, Target};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;

use crate::error::NetError;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A rustls client config trusting the public webpki roots and, when given,
/// every certificate in the PEM file `ca_bundle`; no pins.
pub fn client_config(ca_bundle: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    pinned_client_config(ca_bundle, Arc::new(NoPins))
}

/// As [`client_config`], with SPKI pins: after the normal WebPKI verification
/// succeeds, a chain must also hold a pin of every set `pins` names for the host.
pub fn pinned_client_config(
    ca_bundle: Option<&Path>,
    pins: Arc<dyn PinSource>,
) -> anyhow::Result<rustls::ClientConfig> {
    let webpki = webpki_verifier(ca_bundle)?;
    client_config_with(Arc::new(PinningVerifier { webpki, pins }))
}

/// The WebPKI verifier trusting the public webpki roots and, when given,
/// every certificate in the PEM file `ca_bundle`.
pub fn webpki_verifier(ca_bundle: Option<&Path>) -> anyhow::Result<Arc<WebPkiServerVerifier>> {
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
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .context("cannot build the certificate verifier")
}

/// A client config (TLS 1.2 minimum, no client auth) whose certificates
/// `verifier` checks.
pub fn client_config_with(
    verifier: Arc<dyn ServerCertVerifier>,
) -> anyhow::Result<rustls::ClientConfig> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS provider rejects TLS 1.2/1.3")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Any byte stream a protocol can run on (TCP, TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The name the certificate must carry for `target`: its host name (SNI), or
/// its IP address.
pub fn server_name(target: &Target) -> Result<ServerName<'static>, NetError> {
    match &target.host {
        Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        Host::Name(name) => ServerName::try_from(name.clone()).map_err(|e| {
            NetError::InvalidArgument(format!("{name:?} is not a TLS server name: {e}"))
        }),
    }
}

/// TLS over a guarded socket, with SNI and certificate check for `target`'s host.
pub async fn connect(
    tls: &Arc<rustls::ClientConfig>,
    target: &Target,
    stream: GuardedSocket,
) -> Result<TlsStream<GuardedSocket>, NetError> {
    let name = server_name(target)?;
    tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(name, stream)
        .await
        .map_err(|e| NetError::Tls(format!("{target}: {}", tls_detail(&e))))
}

/// The rustls error inside an I/O error, which says what was wrong with the
/// certificate or handshake.
fn tls_detail(err: &std::io::Error) -> String {
    let mut inner = err.get_ref();
    while let Some(e) = inner {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return describe_tls_error(tls);
        }
        inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
    }
    err.to_string()
}
