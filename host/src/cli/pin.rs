//! `sandnet pin`: prints the SPKI pins (`sha256/...`) of a server's
//! certificate chain, or of the certificates in a PEM file, ready to paste
//! into a rule's `pins = [...]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::fail;
use crate::exit::Code;
use crate::net::common::tls::{client_config_with, spki_pin, webpki_verifier};

/// How long `sandnet pin HOST:PORT` waits for the connection and handshake.
const PIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Print the SPKI pins of a server's certificate chain (or of a PEM file).
///
/// Prints one line per certificate, leaf first: `sha256/BASE64  SUBJECT`.
/// Paste one into a rule: { rule = "https://api.example.com", pins = ["sha256/..."] }.
/// Pinning the CA (a later line) survives leaf renewals. A pin never replaces
/// verification: the chain must also verify against the webpki roots or the
/// policy's ca_bundle, and a warning says when it does not.
///
/// Example: sandnet pin api.example.com:443   |   sandnet pin --pem chain.pem
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The server to connect to, HOST:PORT (IPv6 in brackets: [::1]:443).
    #[arg(required_unless_present = "pem", conflicts_with = "pem")]
    server: Option<String>,
    /// Read the certificates from this PEM file instead of connecting.
    #[arg(long, value_name = "FILE")]
    pem: Option<PathBuf>,
    /// Extra CA certificates (PEM) to verify the server's chain with, as a policy's ca_bundle.
    #[arg(long, value_name = "FILE")]
    ca_bundle: Option<PathBuf>,
}

pub(super) fn exec(args: &Args) -> ExitCode {
    let result = match (&args.pem, &args.server) {
        (Some(pem), _) => from_pem(pem).map(|certs| (certs, None)),
        (None, Some(server)) => from_server(server, args.ca_bundle.as_deref()),
        (None, None) => Err(anyhow::anyhow!("give HOST:PORT or --pem FILE")),
    };
    let (certs, unverified) = match result {
        Ok(found) => found,
        Err(err) => return fail(Code::HostFailure, &err),
    };
    for cert in &certs {
        let Some(pin) = spki_pin(cert) else {
            eprintln!("sandnet: warning: a certificate does not parse; skipped");
            continue;
        };
        println!("{pin}  {}", subject(cert));
    }
    if let Some(why) = unverified {
        eprintln!(
            "sandnet: warning: this chain does not verify ({why}); a pin never replaces verification, so runs will refuse it unless the policy's ca_bundle trusts its CA"
        );
    }
    ExitCode::SUCCESS
}

/// The subject of `cert` as text, or `?`.
fn subject(cert: &CertificateDer<'_>) -> String {
    x509_parser::parse_x509_certificate(cert.as_ref())
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

fn from_pem(path: &std::path::Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds an unreadable PEM block", path.display()))?;
    if certs.is_empty() {
        bail!(
            "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)",
            path.display()
        );
    }
    Ok(certs)
}

/// The chain `server` presents, and why it does not verify (if it does not).
fn from_server(
    server: &str,
    ca_bundle: Option<&std::path::Path>,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, Option<String>)> {
    let (host, port) = server
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
        .with_context(|| format!("expected HOST:PORT, got {server:?}"))?;
    let name = ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host:?} is not a TLS server name"))?;
    let recorder = Arc::new(Recorder {
        webpki: webpki_verifier(ca_bundle)?,
        seen: Mutex::default(),
    });
    let config = client_config_with(Arc::clone(&recorder) as _)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((host, port))
                .await
                .with_context(|| format!("cannot connect to {server}"))?;
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .with_context(|| format!("TLS handshake with {server} failed"))
        };
        tokio::time::timeout(PIN_TIMEOUT, connect)
            .await
            .with_context(|| {
                format!("{server} did not complete a TLS handshake within {PIN_TIMEOUT:?}")
            })?
            .map(drop)
    })?;
    let seen = recorder
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    seen.with_context(|| format!("{server} presented no certificate"))
}

/// Records the chain a server presents and whether it verifies, then lets
/// the handshake finish (nothing is sent over it; the connection is dropped).
#[derive(Debug)]
struct Recorder {
    webpki: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<(Vec<CertificateDer<'static>>, Option<String>)>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .err()
            .map(|e| e.to_string());
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((chain, verdict));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
