//! Retries (`request-options.retries`): a flaky endpoint recovers on a later
//! attempt; only idempotent methods unless asked; `Retry-After` honoured;
//! every attempt goes through the guard and counts against its rate.

use std::time::{Duration, Instant};

use sandnet::error::NetError;
use sandnet::net::http::retry::Retry;

use super::{assert_limit, block_on, get, lib_client, lib_settings};
use crate::support::policy::guest_policy;
use crate::support::recording::{DialMode, RecordingDialer};
use crate::support::servers::{Server, free_port};

#[test]
fn a_flaky_get_succeeds_on_the_third_attempt_with_backoff() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/flaky")));
    let url = srv.url("/flaky?fail=2");
    let started = Instant::now();
    let (status, attempts, body) = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.retry = Retry::new(3, Some(100), false);
        let mut ex = client.send(get(&url), settings).await.unwrap();
        let body = ex
            .body
            .read_all(1024, sandnet::policy::Limit::MaxBodyBytes)
            .await
            .unwrap();
        (ex.status, ex.attempts, body)
    });
    assert_eq!((status.as_u16(), attempts), (200, 3));
    assert_eq!(body, b"recovered");
    assert_eq!(srv.requests(), 3);
    // Two waits: at least half of 100 ms, then half of 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn attempts_run_out_and_the_last_answer_stands() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/flaky")));
    let url = srv.url("/flaky?fail=5");
    let (status, attempts) = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.retry = Retry::new(1, Some(10), false);
        let ex = client.send(get(&url), settings).await.unwrap();
        (ex.status.as_u16(), ex.attempts)
    });
    assert_eq!((status, attempts), (503, 2));
    assert_eq!(srv.requests(), 2);
}

#[test]
fn post_is_retried_only_when_the_guest_says_so() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/flaky")));
    let url = srv.url("/flaky?fail=1");
    let post = || {
        sandnet::net::http::client::RequestSpec::new("POST", &url, &[], Some(b"x".to_vec()))
            .unwrap()
    };
    let (first, second) = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.retry = Retry::new(2, Some(10), false);
        let first = client.send(post(), settings).await.unwrap();
        let first = (first.status.as_u16(), first.attempts);
        // The server counts identical requests: this one fails once more.
        let url2 = format!("{url}&again=1");
        let spec =
            sandnet::net::http::client::RequestSpec::new("POST", &url2, &[], Some(b"x".to_vec()))
                .unwrap();
        settings.retry = Retry::new(2, Some(10), true);
        let second = client.send(spec, settings).await.unwrap();
        (first, (second.status.as_u16(), second.attempts))
    });
    assert_eq!(
        first,
        (503, 1),
        "POST is not idempotent: no retry by default"
    );
    assert_eq!(second, (200, 2), "retry-non-idempotent retries it");
}

#[test]
fn retry_after_is_honoured() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/flaky")));
    let url = srv.url("/flaky?fail=1&after=1");
    let started = Instant::now();
    let attempts = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        // A 10 ms backoff: only Retry-After explains a 1 s wait.
        settings.retry = Retry::new(1, Some(10), false);
        client.send(get(&url), settings).await.unwrap().attempts
    });
    assert_eq!(attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn connect_errors_are_retried_through_the_guard() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/x");
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{url}\"]"));
    let err = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.retry = Retry::new(2, Some(10), false);
        client.send(get(&url), settings).await.err()
    });
    assert!(matches!(err, Some(NetError::Connect(_))), "{err:?}");
    assert_eq!(
        dialer.dialed().len(),
        3,
        "three attempts, each dialled by the guard"
    );
}

#[test]
fn every_attempt_counts_against_the_request_rate() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!(
        "[guest.t]\nallow = [\"{}\"]\nlimits_wait = false\n[guest.t.limits]\nrequests_per_second = 2",
        srv.url("/flaky")
    ));
    let url = srv.url("/flaky?fail=5");
    let err = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.retry = Retry::new(4, Some(10), false);
        client.send(get(&url), settings).await.err()
    });
    assert_limit(err.as_ref(), "requests_per_second", Some(2));
    assert_eq!(srv.requests(), 2, "the third attempt had no token");
}
