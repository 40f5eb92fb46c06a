//! The one test CA: made at test time, it signs a server certificate for
//! 127.0.0.1 and localhost that every TLS test server (HTTPS, WSS, TLS over
//! TCP) presents, and is written as a PEM file for a policy's `ca_bundle`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;

/// A CA made at test time and a server configuration whose leaf it signed.
pub struct TestCa {
    /// Keeps the PEM file alive.
    _dir: TempDir,
    /// The CA certificate, PEM.
    pub ca_pem: PathBuf,
    server_config: Arc<rustls::ServerConfig>,
    /// The CA's SPKI pin (`sha256/...`), computed from its key pair.
    pub ca_pin: String,
    /// The server certificate's SPKI pin, computed from its key pair.
    pub leaf_pin: String,
}

/// `sha256/BASE64` of a key pair's SubjectPublicKeyInfo, as rcgen encodes it.
fn pin_of(key: &rcgen::KeyPair) -> String {
    use rcgen::PublicKeyData;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.subject_public_key_info());
    sandnet::policy::Pin(digest.into()).to_string()
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("ca_pem", &self.ca_pem)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// Makes a fresh CA and server certificate.
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sandnet test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_pin = pin_of(&ca_key);
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA cert");

        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "sandnet test server");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_pin = pin_of(&leaf_key);
        let leaf = leaf_params.signed_by(&leaf_key, &*ca).expect("leaf cert");

        let dir = tempfile::tempdir().expect("tempdir");
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, ca.pem()).expect("write CA PEM");

        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
            .expect("server certificate");
        TestCa {
            _dir: dir,
            ca_pem,
            server_config: Arc::new(config),
            ca_pin,
            leaf_pin,
        }
    }

    /// The CA PEM path as TOML-safe text.
    pub fn ca_pem_str(&self) -> String {
        self.ca_pem.display().to_string()
    }

    /// The server side: the leaf for 127.0.0.1 and localhost, no ALPN.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.server_config)
    }

    /// The server side offering HTTP/1.1 by ALPN (for HTTPS servers).
    pub fn https_config(&self) -> Arc<rustls::ServerConfig> {
        let mut config = (*self.server_config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// The server side offering only HTTP/2 by ALPN (`h2`).
    pub fn h2_config(&self) -> Arc<rustls::ServerConfig> {
        let mut config = (*self.server_config).clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Arc::new(config)
    }
}
