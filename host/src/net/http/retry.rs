//! Retries of `sandnet:net/http` requests: which outcomes are retried, how
//! long to wait before the next attempt (exponential backoff with jitter, or
//! the server's `Retry-After`, capped), and the loop that makes the attempts.
//!
//! Every attempt is a whole new request through [`HttpClient::send_once`]: the
//! guard checks it again and counts it against `requests_per_second` and the
//! byte quotas. Streamed uploads are never retried (their body is gone once
//! sent); `fetch` and `send` bodies are in memory and replayed as they were.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode, header};

use super::client::{Exchange, HttpClient, RequestSpec, Settings};
use crate::error::{NetError, TimeoutKind};

/// Most attempts a request may ask for (the first one included).
pub const MAX_ATTEMPTS: u32 = 10;
/// First backoff when the guest names none.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(250);
/// Longest backoff between two attempts, whatever the attempt count.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Longest `Retry-After` honoured; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How a request is retried. `attempts == 1` means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (1..=[`MAX_ATTEMPTS`]).
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each later one.
    pub backoff: Duration,
    /// Whether non-idempotent methods (POST, PATCH, ...) are retried too.
    pub non_idempotent: bool,
}

impl Retry {
    /// No retries.
    pub const NEVER: Retry = Retry {
        attempts: 1,
        backoff: DEFAULT_BACKOFF,
        non_idempotent: false,
    };

    /// `retries` more attempts after the first (clamped to [`MAX_ATTEMPTS`]),
    /// waiting `backoff_ms` (default [`DEFAULT_BACKOFF`]) and doubling.
    pub fn new(retries: u32, backoff_ms: Option<u32>, non_idempotent: bool) -> Retry {
        Retry {
            attempts: retries.saturating_add(1).min(MAX_ATTEMPTS),
            backoff: backoff_ms.map_or(DEFAULT_BACKOFF, |ms| {
                Duration::from_millis(u64::from(ms)).min(MAX_BACKOFF)
            }),
            non_idempotent,
        }
    }

    /// Whether a request with `method` may be retried at all.
    pub fn applies_to(&self, method: &Method) -> bool {
        self.attempts > 1 && (self.non_idempotent || is_idempotent(method))
    }
}

/// RFC 9110 §9.2.2: sending these twice has the effect of sending them once.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Statuses that say "try again": 408, 429, 502, 503, 504.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
}

/// Failures worth another attempt: the connection could not be made or was
/// lost, or the server did not answer in time. A denial, a limit, a TLS or
/// protocol error, or the request's total deadline is final.
pub fn is_retryable_error(err: &NetError) -> bool {
    matches!(
        err,
        NetError::Connect(_)
            | NetError::Closed(_)
            | NetError::Timeout(TimeoutKind::Connect | TimeoutKind::FirstByte)
    )
}

/// The backoff after `failed` attempts (1 for the wait before the second):
/// `backoff · 2^(failed-1)`, capped at [`MAX_BACKOFF`], scaled by `jitter`
/// (in `0.0..=1.0`) to between half and all of it, so many clients that
/// failed together do not come back together.
pub fn backoff(retry: &Retry, failed: u32, jitter: f64) -> Duration {
    let doublings = failed.saturating_sub(1).min(20);
    let full = retry
        .backoff
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF);
    full.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

/// The wait a `Retry-After` header asks for (delay-seconds or an HTTP date,
/// RFC 9110 §10.2.3), capped at [`MAX_RETRY_AFTER`]; `None` if absent or
/// unreadable.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match text.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(text).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The wait before the next attempt after `failed` attempts: the server's
/// `Retry-After` when it gave one, else the jittered backoff.
fn next_wait(retry: &Retry, failed: u32, response: Option<&HeaderMap>) -> Duration {
    response
        .and_then(|h| retry_after(h, SystemTime::now()))
        .unwrap_or_else(|| backoff(retry, failed, fastrand::f64()))
}

/// Sends `spec` until an attempt gives a final outcome, the attempts run out,
/// or the next wait would end past the request's deadline; the exchange
/// returned says how many attempts were made.
pub async fn send_with_retries(
    client: &HttpClient,
    spec: RequestSpec,
    settings: Settings,
) -> Result<Exchange, NetError> {
    let retry = settings.retry;
    let may_retry = retry.applies_to(&spec.method);
    let mut attempt = 1;
    loop {
        // Boxed: an attempt's future is kilobytes, and would be moved with
        // every future that holds this one.
        let outcome = Box::pin(client.send_once(spec.clone(), settings, attempt)).await;
        let wait = match &outcome {
            _ if !may_retry || attempt >= retry.attempts => None,
            Ok(ex) if is_retryable_status(ex.status) => {
                Some(next_wait(&retry, attempt, Some(&ex.headers)))
            }
            Err(err) if is_retryable_error(err) => Some(next_wait(&retry, attempt, None)),
            _ => None,
        };
        let Some(wait) = wait.filter(|w| Instant::now() + *w < settings.deadline) else {
            return outcome.map(|mut ex| {
                ex.attempts = attempt;
                ex
            });
        };
        match &outcome {
            Ok(ex) => {
                tracing::debug!(url = %spec.url, attempt, status = %ex.status, ?wait, "retrying")
            }
            Err(err) => tracing::debug!(url = %spec.url, attempt, %err, ?wait, "retrying"),
        }
        // The failed response (and its connection) goes before we wait.
        drop(outcome);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idempotent_methods_unless_asked() {
        let retry = Retry::new(2, None, false);
        for (method, want) in [
            (Method::GET, true),
            (Method::HEAD, true),
            (Method::PUT, true),
            (Method::DELETE, true),
            (Method::OPTIONS, true),
            (Method::POST, false),
            (Method::PATCH, false),
        ] {
            assert_eq!(retry.applies_to(&method), want, "{method}");
        }
        assert!(Retry::new(2, None, true).applies_to(&Method::POST));
        assert!(!Retry::new(0, None, true).applies_to(&Method::GET));
        assert!(!Retry::NEVER.applies_to(&Method::GET));
    }

    #[test]
    fn attempts_and_backoff_are_capped() {
        assert_eq!(Retry::new(3, None, false).attempts, 4);
        assert_eq!(Retry::new(u32::MAX, None, false).attempts, MAX_ATTEMPTS);
        assert_eq!(
            Retry::new(1, Some(u32::MAX), false).backoff,
            MAX_BACKOFF,
            "a huge backoff is capped"
        );
    }

    #[test]
    fn retryable_statuses() {
        for code in [408, 429, 502, 503, 504] {
            assert!(
                is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [200, 301, 400, 404, 500, 501] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn retryable_errors() {
        let yes = [
            NetError::Connect("refused".into()),
            NetError::Closed("reset".into()),
            NetError::Timeout(TimeoutKind::Connect),
            NetError::Timeout(TimeoutKind::FirstByte),
        ];
        let no = [
            NetError::Timeout(TimeoutKind::Total),
            NetError::Tls("bad cert".into()),
            NetError::Protocol("bad".into()),
            NetError::InvalidArgument("x".into()),
            NetError::limit(sandnet_policy::Limit::RequestsPerSecond, 1),
        ];
        for err in yes {
            assert!(is_retryable_error(&err), "{err}");
        }
        for err in no {
            assert!(!is_retryable_error(&err), "{err}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let retry = Retry::new(5, Some(100), false);
        assert_eq!(backoff(&retry, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&retry, 1, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&retry, 3, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(&retry, 3, 0.5), Duration::from_millis(300));
        assert_eq!(backoff(&retry, 40, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_seconds_dates_and_cap() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::RETRY_AFTER, v.parse().unwrap());
            h
        };
        assert_eq!(
            retry_after(&headers("2"), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after(&headers("3600"), now), Some(MAX_RETRY_AFTER));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(
            retry_after(&headers(&date), now),
            Some(Duration::from_secs(5))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
