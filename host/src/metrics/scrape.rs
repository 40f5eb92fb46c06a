//! Fetches a metrics endpoint's text over plain HTTP/1.1: what `sandnet status`
//! reads.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::serve::PATH;

/// The most text a scrape reads; a sandnet host's metrics are far smaller.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Why a scrape failed. Each names the address and what to check.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The address is not `HOST:PORT`, or the name does not resolve.
    #[error("cannot use metrics address {addr:?}: {reason}; give HOST:PORT, e.g. 127.0.0.1:9464")]
    Address {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing accepted the connection.
    #[error(
        "nothing serves metrics at {addr}: {source}; is `sandnet up --metrics {addr}` running?"
    )]
    Connect {
        /// The address as given.
        addr: String,
        /// The connection error.
        source: std::io::Error,
    },
    /// The server did not answer (in time, or as HTTP).
    #[error("no metrics from {addr}: {reason}; is it a sandnet metrics address?")]
    Http {
        /// The address as given.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with another status than 200.
    #[error("http://{addr}/metrics answered {status}; is it a sandnet metrics address?")]
    Status {
        /// The address as given.
        addr: String,
        /// The status received.
        status: StatusCode,
    },
}

/// GETs `http://ADDR/metrics` and returns the body. `addr` is `HOST:PORT`,
/// optionally written as `http://HOST:PORT` or with the `/metrics` path.
/// The whole exchange is bounded by `timeout`.
pub async fn scrape(addr: &str, timeout: Duration) -> Result<String, ScrapeError> {
    let authority = authority(addr);
    match tokio::time::timeout(timeout, fetch(authority)).await {
        Ok(result) => result,
        Err(_) => Err(ScrapeError::Http {
            addr: authority.to_owned(),
            reason: format!("no answer within {timeout:?}"),
        }),
    }
}

/// `HOST:PORT` from the forms a user may paste.
fn authority(addr: &str) -> &str {
    let addr = addr.trim();
    let addr = addr.strip_prefix("http://").unwrap_or(addr);
    let addr = addr.strip_suffix('/').unwrap_or(addr);
    addr.strip_suffix(PATH).unwrap_or(addr)
}

async fn fetch(addr: &str) -> Result<String, ScrapeError> {
    let http = |reason: String| ScrapeError::Http {
        addr: addr.to_owned(),
        reason,
    };
    let mut candidates =
        tokio::net::lookup_host(addr)
            .await
            .map_err(|err| ScrapeError::Address {
                addr: addr.to_owned(),
                reason: err.to_string(),
            })?;
    let Some(first) = candidates.next() else {
        return Err(ScrapeError::Address {
            addr: addr.to_owned(),
            reason: "the name has no address".to_owned(),
        });
    };
    let mut connected = TcpStream::connect(first).await;
    for other in candidates {
        if connected.is_ok() {
            break;
        }
        connected = TcpStream::connect(other).await;
    }
    let stream = connected.map_err(|source| ScrapeError::Connect {
        addr: addr.to_owned(),
        source,
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| http(err.to_string()))?;
    let driver = tokio::spawn(conn);
    let request = Request::get(PATH)
        .header(header::HOST, addr)
        .header(header::ACCEPT, prometheus::TEXT_FORMAT)
        .body(Empty::<Bytes>::new())
        .map_err(|err| http(err.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| http(err.to_string()))?;
    let status = response.status();
    if status != StatusCode::OK {
        driver.abort();
        return Err(ScrapeError::Status {
            addr: addr.to_owned(),
            status,
        });
    }
    let body = Limited::new(response.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|err| http(format!("reading the body: {err}")))?
        .to_bytes();
    driver.abort();
    String::from_utf8(body.to_vec()).map_err(|_| http("the body is not UTF-8 text".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn pasted_forms_of_an_address_name_the_same_authority() {
        for given in [
            "127.0.0.1:9464",
            " http://127.0.0.1:9464",
            "http://127.0.0.1:9464/",
            "http://127.0.0.1:9464/metrics",
            "127.0.0.1:9464/metrics",
        ] {
            assert_eq!(authority(given), "127.0.0.1:9464", "{given:?}");
        }
    }
}
