//! URL intake: how every protocol takes a URL from a guest, before the policy
//! sees it.

use url::Url;

use super::memo::memoised;
use crate::error::NetError;

memoised! {
    /// `Url::parse`, memoised per thread (see [`super::memo`]).
    fn parse_url(text: &str) -> Result<Url, url::ParseError> { Url::parse(text) }
}

/// Parses the guest's `url` for the `interface` (named in messages) that takes
/// the URL schemes `schemes`; refuses any other scheme and user info (a
/// credential belongs in a header, where the policy's rules for headers apply
/// and redirects can drop it).
pub fn intake(url: &str, interface: &str, schemes: &[&str]) -> Result<Url, NetError> {
    let parsed = parse_url(url)
        .map_err(|e| NetError::InvalidArgument(format!("invalid URL {url:?}: {e}")))?;
    if !schemes.contains(&parsed.scheme()) {
        let takes: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
        return Err(NetError::InvalidArgument(format!(
            "URL {url:?} has scheme {:?}; the {interface} interface takes {} URLs",
            parsed.scheme(),
            takes.join(" or ")
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(NetError::InvalidArgument(format!(
            "URL {:?} carries credentials before the host; send them in an authorization header instead",
            parsed.host_str().unwrap_or_default()
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_refuses_other_schemes_and_user_info_without_echoing_secrets() {
        let err = intake("ftp://a.test/", "http", &["http", "https"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: URL \"ftp://a.test/\" has scheme \"ftp\"; the http interface takes http:// or https:// URLs"
        );
        let err = intake("wss://u:hunter2@a.test/", "websocket", &["ws", "wss"]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("authorization header"), "{err}");
        assert!(intake("https://a.test/x?y", "sse", &["http", "https"]).is_ok());
        assert!(intake("not a url", "http", &["http"]).is_err());
    }
}
