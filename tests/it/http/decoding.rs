//! Content decoding (`request-options.decode`): every coding the host asks
//! for is decoded, headers fixed; a decompression bomb stops at
//! `max_body_bytes` (buffered) and `bytes_in_total` (streamed).

use sandnet::policy::Limit;

use super::{assert_limit, block_on, get, lib_client, lib_settings};
use crate::support::policy::guest_policy;
use crate::support::recording::{DialMode, RecordingDialer};
use crate::support::servers::Server;

#[test]
fn every_coding_is_decoded_when_asked() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/encoded")));
    block_on(async {
        let client = lib_client(policy, &dialer);
        for coding in ["gzip", "deflate", "br", "zstd"] {
            let url = srv.url(&format!("/encoded?coding={coding}&n=5000"));
            let mut settings = lib_settings();
            settings.max_body = 10_000;
            settings.decode = true;
            let mut ex = client.send(get(&url), settings).await.unwrap();
            assert!(!ex.headers.contains_key("content-encoding"), "{coding}");
            assert!(!ex.headers.contains_key("content-length"), "{coding}");
            let body = ex.body.read_all(10_000, Limit::MaxBodyBytes).await.unwrap();
            assert_eq!(body, vec![0u8; 5000], "{coding}");

            // Not asked: the coded bytes, as sent.
            settings.decode = false;
            let mut ex = client.send(get(&url), settings).await.unwrap();
            assert_eq!(ex.headers["content-encoding"], coding);
            let body = ex.body.read_all(10_000, Limit::MaxBodyBytes).await.unwrap();
            assert!(
                body.len() < 5000 && body != vec![0u8; body.len()],
                "{coding}"
            );
        }
    });
}

#[test]
fn the_host_asks_for_the_codings_it_decodes() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/headers")));
    let body = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.decode = true;
        let mut ex = client
            .send(get(&srv.url("/headers")), settings)
            .await
            .unwrap();
        ex.body.read_all(1024, Limit::MaxBodyBytes).await.unwrap()
    });
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("accept-encoding: gzip, deflate, br, zstd\n"),
        "{text}"
    );
}

#[test]
fn a_gzip_bomb_stops_at_max_body_bytes() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/encoded")));
    // 20 MB of zeros is about 20 KB of gzip, far under the 1 MiB cap.
    let url = srv.url("/encoded?coding=gzip&n=20000000");
    let err = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.max_body = 1 << 20;
        settings.decode = true;
        let mut ex = client.send(get(&url), settings).await.unwrap();
        ex.body.read_all(1 << 20, Limit::MaxBodyBytes).await.err()
    });
    assert_limit(err.as_ref(), "max_body_bytes", Some(1048576));
}

#[test]
fn decoded_bytes_count_against_bytes_in_total() {
    let srv = Server::http();
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!(
        "[guest.t]\nallow = [\"{}\"]\n[guest.t.limits]\nbytes_in_total = \"1 MiB\"",
        srv.url("/encoded")
    ));
    let url = srv.url("/encoded?coding=gzip&n=20000000");
    let (err, read) = block_on(async {
        let client = lib_client(policy, &dialer);
        let mut settings = lib_settings();
        settings.decode = true;
        let mut ex = client.send(get(&url), settings).await.unwrap();
        // Streamed, as `send` + `read` do: no buffering cap, only the quota.
        let mut read = 0usize;
        loop {
            match ex.body.read(65536).await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => return (None, read),
                Err(err) => return (Some(err), read),
            }
        }
    });
    assert_limit(err.as_ref(), "bytes_in_total", None);
    assert!(read <= (1 << 20), "{read}");
}
