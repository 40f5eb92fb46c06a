//! HTTP/2: over TLS with ALPN `h2`, concurrent requests of a guest share one
//! connection.

use std::sync::Arc;

use sandnet::audit::Audit;
use sandnet::guard::Guard;
use sandnet::net::http::client::HttpClient;
use sandnet::policy::Limit;

use super::{block_on, get, lib_settings};
use crate::support::policy::guest_policy;
use crate::support::recording::{DialMode, RecordingDialer, guard_with};
use crate::support::servers::Server;
use crate::support::tls::TestCa;

#[test]
fn concurrent_requests_share_one_h2_connection() {
    const CONCURRENT: usize = 6;
    let ca = TestCa::new();
    let srv = Server::h2(&ca);
    let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
    let policy = guest_policy(&format!("[guest.t]\nallow = [\"{}\"]", srv.url("/*")));
    let bodies = block_on(async {
        let guard = Arc::new(Guard::new(policy, guard_with(&[], &dialer, Audit::off())));
        let tls = sandnet::net::common::tls::client_config(Some(&ca.ca_pem)).unwrap();
        let client = HttpClient::new(guard, tls);
        let fetch = |path: String| {
            let client = client.clone();
            let url = srv.url(&path);
            async move {
                let mut ex = client.send(get(&url), lib_settings()).await.unwrap();
                let body = ex.body.read_all(1024, Limit::MaxBodyBytes).await.unwrap();
                String::from_utf8(body).unwrap()
            }
        };
        // The first request learns (by ALPN) that the origin speaks h2;
        // then requests in flight together share its connection.
        let mut bodies = vec![fetch("/version".to_owned()).await];
        let slow = (0..CONCURRENT).map(|_| fetch("/slow?ms=200".to_owned()));
        bodies.extend(futures::future::join_all(slow).await);
        bodies
    });
    assert_eq!(bodies[0], "HTTP/2.0");
    assert!(bodies[1..].iter().all(|b| b == "slow"), "{bodies:?}");
    assert_eq!(srv.requests(), CONCURRENT + 1);
    assert_eq!(srv.connections(), 1, "every request rode one h2 connection");
    assert_eq!(dialer.dialed().len(), 1);
}
