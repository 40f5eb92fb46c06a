//! The guest's private cache (`cache = "memory"`): a fresh answer is served
//! without reaching the server, a stale one is revalidated with
//! `If-None-Match`, a URL the policy no longer grants is not served, and no
//! guest sees another's entries.

use sandnet::error::NetError;
use sandnet::net::http::client::HttpClient;
use sandnet::policy::Limit;

use super::{block_on, get, lib_client, lib_settings};
use crate::support::policy::guest_policy;
use crate::support::recording::{DialMode, RecordingDialer};
use crate::support::servers::Server;

/// GETs `url` and returns status, body and whether the cache answered.
async fn fetch(client: &HttpClient, url: &str) -> Result<(u16, Vec<u8>, bool), NetError> {
    let mut ex = client.send(get(url), lib_settings()).await?;
    let body = ex.body.read_all(1024, Limit::MaxBodyBytes).await?;
    Ok((ex.status.as_u16(), body, ex.from_cache))
}

fn cached_policy(srv: &Server) -> String {
    format!(
        "[guest.t]\nallow = [\"{}\"]\ncache = \"memory\"",
        srv.url("/cached")
    )
}

#[test]
fn a_fresh_answer_is_served_without_reaching_the_server() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/cached?max-age=60");
    let (first, second) = block_on(async {
        let client = lib_client(guest_policy(&cached_policy(&srv)), &dialer);
        let first = fetch(&client, &url).await.unwrap();
        let second = fetch(&client, &url).await.unwrap();
        (first, second)
    });
    assert_eq!(first, (200, b"cached body".to_vec(), false));
    assert_eq!(second, (200, b"cached body".to_vec(), true));
    assert_eq!(srv.requests(), 1);
}

#[test]
fn without_a_cache_every_get_reaches_the_server() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/cached?max-age=60");
    let text = format!("[guest.t]\nallow = [\"{}\"]", srv.url("/cached"));
    block_on(async {
        let client = lib_client(guest_policy(&text), &dialer);
        for _ in 0..2 {
            assert!(!fetch(&client, &url).await.unwrap().2);
        }
    });
    assert_eq!(srv.requests(), 2);
}

#[test]
fn a_stale_answer_is_revalidated_with_if_none_match() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/cached?max-age=0");
    let second = block_on(async {
        let client = lib_client(guest_policy(&cached_policy(&srv)), &dialer);
        fetch(&client, &url).await.unwrap();
        fetch(&client, &url).await.unwrap()
    });
    // The server answers 304 only to `if-none-match: "v1"`; the guest gets
    // the stored body with status 200.
    assert_eq!(second, (200, b"cached body".to_vec(), true));
    assert_eq!(srv.requests(), 2);
}

#[test]
fn a_url_no_longer_granted_is_not_served_from_the_cache() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/cached?max-age=60");
    let err = block_on(async {
        let client = lib_client(guest_policy(&cached_policy(&srv)), &dialer);
        fetch(&client, &url).await.unwrap();
        client.guard().reload(guest_policy(&format!(
            "[guest.t]\nallow = [\"{}\"]\ncache = \"memory\"",
            srv.url("/ok")
        )));
        fetch(&client, &url).await.err()
    });
    assert!(matches!(err, Some(NetError::Denied(_))), "{err:?}");
    assert_eq!(srv.requests(), 1);
}

#[test]
fn guests_never_share_a_cache() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let url = srv.url("/cached?max-age=60");
    block_on(async {
        let a = lib_client(guest_policy(&cached_policy(&srv)), &dialer);
        let b = lib_client(guest_policy(&cached_policy(&srv)), &dialer);
        assert!(!fetch(&a, &url).await.unwrap().2);
        assert!(
            !fetch(&b, &url).await.unwrap().2,
            "b's first GET is b's own"
        );
        assert!(fetch(&b, &url).await.unwrap().2);
    });
    assert_eq!(srv.requests(), 2);
}
