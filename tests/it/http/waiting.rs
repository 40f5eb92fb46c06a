//! Limits that wait: `requests_per_second` and `max_connections` hold a
//! request back (within its timeout) instead of refusing it, unless the
//! guest's policy says `limits_wait = false`.

use std::time::{Duration, Instant};

use sandnet::error::NetError;

use super::{assert_limit, block_on, get, lib_client, lib_settings};
use crate::support::policy::guest_policy;
use crate::support::recording::{DialMode, RecordingDialer};
use crate::support::servers::Server;

fn rate_policy(srv: &Server, wait: bool) -> String {
    format!(
        "[guest.t]\nallow = [\"{}\"]\nlimits_wait = {wait}\n[guest.t.limits]\nrequests_per_second = 2",
        srv.url("/ok")
    )
}

#[test]
fn requests_past_the_rate_wait_for_a_token() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let started = Instant::now();
    block_on(async {
        let client = lib_client(guest_policy(&rate_policy(&srv, true)), &dialer);
        for i in 0..4 {
            let ex = client.send(get(&srv.url("/ok")), lib_settings()).await;
            assert_eq!(
                ex.map(|e| e.status.as_u16())
                    .unwrap_or_else(|e| panic!("{i}: {e}")),
                200
            );
        }
    });
    // Two tokens banked, then one every 500 ms.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert_eq!(srv.requests(), 4);
}

#[test]
fn fail_fast_refuses_past_the_rate_at_once() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let started = Instant::now();
    let err = block_on(async {
        let client = lib_client(guest_policy(&rate_policy(&srv, false)), &dialer);
        for _ in 0..2 {
            client
                .send(get(&srv.url("/ok")), lib_settings())
                .await
                .unwrap();
        }
        client
            .send(get(&srv.url("/ok")), lib_settings())
            .await
            .err()
    });
    assert_limit(err.as_ref(), "requests_per_second", Some(2));
    assert!(started.elapsed() < Duration::from_millis(400));
    assert_eq!(srv.requests(), 2);
}

#[test]
fn a_wait_longer_than_the_timeout_is_refused_at_once() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let text = format!(
        "[guest.t]\nallow = [\"{}\"]\n[guest.t.limits]\nrequests_per_second = 1",
        srv.url("/ok")
    );
    let started = Instant::now();
    let err = block_on(async {
        let client = lib_client(guest_policy(&text), &dialer);
        client
            .send(get(&srv.url("/ok")), lib_settings())
            .await
            .unwrap();
        let mut settings = lib_settings();
        settings.deadline = Instant::now() + Duration::from_millis(200);
        client.send(get(&srv.url("/ok")), settings).await.err()
    });
    assert_limit(err.as_ref(), "requests_per_second", None);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

fn slot_policy(srv: &Server, wait: bool) -> String {
    format!(
        "[guest.t]\nallow = [\"{}\"]\nlimits_wait = {wait}\n[guest.t.limits]\nmax_connections = 1",
        srv.url("/slow")
    )
}

/// Two requests at once under `max_connections = 1`: the second waits for
/// the first's connection (returned to the pool) instead of failing.
#[test]
fn a_request_waits_for_a_connection_slot() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/slow?ms=300");
    let (a, b) = block_on(async {
        let client = lib_client(guest_policy(&slot_policy(&srv, true)), &dialer);
        let read = |client: sandnet::net::http::client::HttpClient| {
            let url = url.clone();
            async move {
                let mut ex = client.send(get(&url), lib_settings()).await?;
                ex.body
                    .read_all(1024, sandnet::policy::Limit::MaxBodyBytes)
                    .await?;
                Ok::<u16, NetError>(ex.status.as_u16())
            }
        };
        tokio::join!(read(client.clone()), read(client.clone()))
    });
    assert_eq!((a.unwrap(), b.unwrap()), (200, 200));
    assert_eq!(srv.connections(), 1, "one slot, one connection");
}

#[test]
fn fail_fast_refuses_past_max_connections() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/slow?ms=300");
    let (a, b) = block_on(async {
        let client = lib_client(guest_policy(&slot_policy(&srv, false)), &dialer);
        let send = |client: sandnet::net::http::client::HttpClient| {
            let url = url.clone();
            async move {
                client
                    .send(get(&url), lib_settings())
                    .await
                    .map(|e| e.status.as_u16())
            }
        };
        tokio::join!(send(client.clone()), send(client.clone()))
    });
    let refused = [&a, &b]
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(NetError::LimitExceeded {
                    name: "max_connections",
                    value: 1
                })
            )
        })
        .count();
    assert_eq!(refused, 1, "{a:?} {b:?}");
}
