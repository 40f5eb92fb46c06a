//! SPKI pinning for every TLS connection: a rustls certificate verifier that
//! runs the normal WebPKI verification first, then requires the presented
//! chain to hold a pin of every pinned rule naming the host (pins never
//! replace verification). The SPKI is read with `x509-parser`.

use std::fmt;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sandnet_policy::{Host, Pin};
use sha2::{Digest, Sha256};

/// Where the verifier learns which pins a host needs (the guard answers from
/// the policy in force, so a reload applies to the next handshake).
pub trait PinSource: Send + Sync + fmt::Debug {
    /// One set per pinned rule naming `host`; the chain must hold a pin of each.
    fn pins_for(&self, host: &Host) -> Vec<Vec<Pin>>;
}

/// No pins anywhere (tools, tests).
#[derive(Debug, Clone, Copy)]
pub struct NoPins;

impl PinSource for NoPins {
    fn pins_for(&self, _host: &Host) -> Vec<Vec<Pin>> {
        Vec::new()
    }
}

/// The pin of a certificate: SHA-256 of its SubjectPublicKeyInfo; `None` if
/// the certificate does not parse.
pub fn spki_pin(cert: &CertificateDer<'_>) -> Option<Pin> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(Pin(Sha256::digest(parsed.public_key().raw).into()))
}

/// A rustls error as the guest reads it: a failed pin check is its own
/// message, not "unexpected error: ...".
pub fn describe_tls_error(err: &rustls::Error) -> String {
    match err {
        rustls::Error::General(message) if message.contains(PIN_MISMATCH) => message.clone(),
        other => other.to_string(),
    }
}

/// What every pin-mismatch message says (and [`describe_tls_error`] looks for).
const PIN_MISMATCH: &str = "matches none of the pins";

/// WebPKI verification, then the pins.
#[derive(Debug)]
pub(super) struct PinningVerifier {
    pub(super) webpki: Arc<WebPkiServerVerifier>,
    pub(super) pins: Arc<dyn PinSource>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let host = match server_name {
            ServerName::DnsName(name) => Host::parse(name.as_ref())
                .map_err(|e| rustls::Error::General(format!("{name:?}: {e}")))?,
            ServerName::IpAddress(ip) => Host::Ip(std::net::IpAddr::from(*ip)),
            _ => return Err(rustls::Error::General("unsupported server name".to_owned())),
        };
        let sets = self.pins.pins_for(&host);
        if sets.is_empty() {
            return Ok(verified);
        }
        let chain: Vec<Pin> = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(spki_pin)
            .collect();
        check_chain(&host, &sets, &chain).map_err(rustls::Error::General)?;
        Ok(verified)
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

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}

/// `Ok` when `chain` holds a pin of every set; else the message naming the
/// host, the pins expected and those presented.
fn check_chain(host: &Host, sets: &[Vec<Pin>], chain: &[Pin]) -> Result<(), String> {
    let Some(unmet) = sets
        .iter()
        .find(|set| !set.iter().any(|p| chain.contains(p)))
    else {
        return Ok(());
    };
    let list = |pins: &[Pin]| {
        pins.iter()
            .map(Pin::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "the certificate chain of {host} {PIN_MISMATCH} the policy expects ({}); it presents {} (`sandnet pin` prints a server's pins)",
        list(unmet),
        list(chain),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_rule_needs_one_of_its_pins_in_the_chain() {
        let (a, b, c) = (Pin([1; 32]), Pin([2; 32]), Pin([3; 32]));
        let host = Host::parse("api.example.com").unwrap_or_else(|e| panic!("{e}"));
        let ok = |sets: &[Vec<Pin>], chain: &[Pin]| check_chain(&host, sets, chain).is_ok();
        assert!(ok(&[], &[a]));
        assert!(ok(&[vec![a, c]], &[b, c]));
        assert!(ok(&[vec![a], vec![b]], &[a, b]));
        assert!(!ok(&[vec![a], vec![c]], &[a, b]));
        assert_eq!(
            check_chain(&host, &[vec![c]], &[a, b]),
            Err(format!(
                "the certificate chain of api.example.com matches none of the pins the policy expects ({c}); it presents {a}, {b} (`sandnet pin` prints a server's pins)"
            ))
        );
    }
}
