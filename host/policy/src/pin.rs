//! SPKI pins: `pins = ["sha256/BASE64"]`, the SHA-256 of a certificate's
//! SubjectPublicKeyInfo, as HPKP and `curl --pinnedpubkey` write them.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The SHA-256 digest of one SubjectPublicKeyInfo that a TLS chain must hold.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    /// Parses `sha256/` followed by the standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Pin, String> {
        let hint = "a pin is \"sha256/\" and the base64 of a SHA-256 digest; `sandnet pin HOST:PORT` prints them";
        let Some(encoded) = text.strip_prefix("sha256/") else {
            return Err(format!("invalid pin \"{text}\": {hint}"));
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| format!("invalid pin \"{text}\": {e}; {hint}"))?;
        let digest: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "invalid pin \"{text}\": {} bytes where a SHA-256 digest has 32; {hint}",
                bytes.len()
            )
        })?;
        Ok(Pin(digest))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256/{}", STANDARD.encode(self.0))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_round_trip_through_their_text() {
        let text = "sha256/AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let pin = Pin::parse(text);
        assert_eq!(pin.map(|p| p.to_string()).as_deref(), Ok(text));
    }

    #[test]
    fn malformed_pins_are_refused_with_the_reason() {
        let hint = "a pin is \"sha256/\" and the base64 of a SHA-256 digest; `sandnet pin HOST:PORT` prints them";
        for (text, want) in [
            ("AAEC", format!("invalid pin \"AAEC\": {hint}")),
            (
                "sha1/AAECAwQFBgcICQoLDA0ODxAREhM=",
                format!("invalid pin \"sha1/AAECAwQFBgcICQoLDA0ODxAREhM=\": {hint}"),
            ),
            (
                "sha256/AAECAw==",
                format!(
                    "invalid pin \"sha256/AAECAw==\": 4 bytes where a SHA-256 digest has 32; {hint}"
                ),
            ),
            (
                "sha256/!!!",
                format!("invalid pin \"sha256/!!!\": Invalid symbol 33, offset 0.; {hint}"),
            ),
        ] {
            assert_eq!(Pin::parse(text).map(|_| ()), Err(want), "{text:?}");
        }
    }
}
