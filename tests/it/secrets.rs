//! Secret headers a policy attaches to a rule (`headers = { NAME = { env | file,
//! format } }`): the host sends them to matching targets over `sandnet:net/http`,
//! standard `wasi:http` and the WebSocket handshake, drops them on a redirect
//! hop that leaves the rule, refuses a guest header of the same name, and never
//! lets the guest (or the audit log) see the value.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sandnet::audit::Audit;
use sandnet::guard::Guard;
use sandnet::net::http::client::{HttpClient, RequestSpec};

use crate::support::assertions::check;
use crate::support::guests::{Cli, Output, lib_http_settings};
use crate::support::policy::{PolicyFile, guest_section, policy, write_policy};
use crate::support::recording::{DialMode, RecordingDialer, audit_events, guard_with};
use crate::support::servers::{Loopback, WsServer, lock};

/// The token the tests hand the host; no guest output may contain it.
const TOKEN: &str = "tok-3f9a1c77e2b54d08";
/// The environment variable the policies read it from.
const TOKEN_VAR: &str = "SANDNET_IT_SECRET_TOKEN";

/// `path -> authorization header` of every request a [`Recorder`] served.
type Requests = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// An HTTP/1.1 server that records each request's `authorization` header and
/// never echoes it: `/…/go?to=URL` answers 302 to URL, anything else 200 `ok PATH`.
struct Recorder {
    listener: Loopback,
    seen: Requests,
}

impl Recorder {
    fn start() -> Recorder {
        let seen: Requests = Arc::default();
        let shared = Arc::clone(&seen);
        let listener = Loopback::start(
            None,
            Arc::new(move |_, io| {
                let seen = Arc::clone(&shared);
                Box::pin(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let seen = Arc::clone(&seen);
                        async move { Ok::<_, Infallible>(record(&req, &seen)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                })
            }),
        );
        Recorder { listener, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listener.port())
    }

    fn seen(&self) -> Vec<(String, Option<String>)> {
        lock(&self.seen).clone()
    }
}

fn record(req: &Request<hyper::body::Incoming>, seen: &Requests) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    lock(seen).push((path.clone(), auth));
    let to = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("to="))
        .map(str::to_owned);
    match to {
        Some(to) if path.ends_with("/go") => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", to)
            .body(Full::new(Bytes::new()))
            .expect("redirect response"),
        _ => Response::new(Full::new(Bytes::from(format!("ok {path}")))),
    }
}

/// A policy granting `api` (with the secret) and `open` (without), redirects on.
fn secret_policy(api: &str, open: &[String]) -> PolicyFile {
    let open: Vec<String> = open.iter().map(|r| format!("  \"{r}\",\n")).collect();
    policy(&format!(
        "allow = [\n  {{ rule = \"{api}\", headers = {{ authorization = {{ env = \"{TOKEN_VAR}\", format = \"Bearer {{}}\" }} }} }},\n{}]\nenv = {{ HTTP_GET_MAX_REDIRECTS = \"3\" }}",
        open.concat()
    ))
}

/// Asserts nothing the guest printed, nor the audit log, holds the token.
#[track_caller]
fn assert_token_hidden(run: &Output, audit: &str) {
    check!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        run
    );
    assert!(
        !audit.contains(TOKEN),
        "the audit log holds the secret:\n{audit}"
    );
}

#[test]
fn the_server_gets_the_secret_the_guest_and_audit_log_never_see() {
    let srv = Recorder::start();
    let policy = secret_policy(&srv.url("/api/*"), &[]);
    let audit = policy.dir.path().join("audit.jsonl");
    let audit_arg = format!("--audit={}", audit.display());
    let run = Cli::run(
        "rust-http-get",
        &policy,
        &[&audit_arg],
        &[&srv.url("/api/items")],
    )
    .env(TOKEN_VAR, TOKEN)
    .output();
    check!(
        run.code == Some(0) && run.stdout == "200\nok /api/items",
        run
    );
    assert_eq!(
        srv.seen(),
        [("/api/items".to_owned(), Some(format!("Bearer {TOKEN}")))]
    );
    let log = std::fs::read_to_string(&audit).expect("audit log");
    assert_token_hidden(&run, &log);
    let requests: Vec<_> = audit_events(&log)
        .into_iter()
        .filter(|e| e["event"] == "request")
        .collect();
    assert_eq!(requests.len(), 1, "{log}");
    assert_eq!(
        requests[0]["secret"],
        serde_json::json!(["authorization"]),
        "{log}"
    );
    // The exchange's `response` event (checked by `assert_token_hidden` above
    // like every line) describes the answer, not the request's headers.
    let response = audit_events(&log)
        .into_iter()
        .find(|e| e["event"] == "response")
        .unwrap_or_else(|| panic!("no response event in\n{log}"));
    assert_eq!(response["status"], 200, "{log}");
    assert_eq!(response["bytes_in"], "ok /api/items".len(), "{log}");

    // The guest's environment holds only what the policy's `env` gives it.
    let env = Cli::run("rust-hostile", &policy, &[], &["env"])
        .env(TOKEN_VAR, TOKEN)
        .output();
    check!(env.code == Some(0), env);
    assert_token_hidden(&env, "");
}

#[test]
fn a_redirect_that_leaves_the_rule_drops_the_secret() {
    let srv = Recorder::start();
    let other = Recorder::start();
    let policy = secret_policy(&srv.url("/api/*"), &[srv.url("/public/*"), other.url("/*")]);
    // Same origin, but a path outside the rule; then another origin.
    for (to, server) in [
        (srv.url("/public/x"), &srv),
        (other.url("/landing"), &other),
    ] {
        let start = srv.url(&format!("/api/go?to={to}"));
        let run = Cli::run("rust-http-get", &policy, &[], &[&start])
            .env(TOKEN_VAR, TOKEN)
            .output();
        check!(
            run.code == Some(0) && run.stdout.starts_with("200\nok "),
            run
        );
        assert_token_hidden(&run, "");
        let seen = server.seen();
        let last = seen.last().expect("the redirect target was reached");
        assert_eq!(last.1, None, "the hop to {to} carried the secret: {seen:?}");
    }
    let first_hops: Vec<_> = srv
        .seen()
        .into_iter()
        .filter(|(p, _)| p == "/api/go")
        .collect();
    assert_eq!(first_hops.len(), 2);
    assert!(
        first_hops
            .iter()
            .all(|(_, a)| a.as_deref() == Some(&format!("Bearer {TOKEN}")[..]))
    );
}

#[test]
fn standard_wasi_http_requests_carry_the_secret_too() {
    let srv = Recorder::start();
    let policy = secret_policy(&srv.url("/api/*"), &[srv.url("/public/*")]);
    let run = Cli::run("rust-wasi-http-get", &policy, &[], &[&srv.url("/api/std")])
        .env(TOKEN_VAR, TOKEN)
        .output();
    check!(run.code == Some(0) && run.stdout == "200\nok /api/std", run);
    let run = Cli::run(
        "rust-wasi-http-get",
        &policy,
        &[],
        &[&srv.url("/public/std")],
    )
    .env(TOKEN_VAR, TOKEN)
    .output();
    check!(run.code == Some(0), run);
    assert_token_hidden(&run, "");
    assert_eq!(
        srv.seen(),
        [
            ("/api/std".to_owned(), Some(format!("Bearer {TOKEN}"))),
            ("/public/std".to_owned(), None),
        ]
    );
}

#[test]
fn a_missing_secret_source_stops_the_run_with_the_policy_line() {
    let srv = Recorder::start();
    let policy = secret_policy(&srv.url("/api/*"), &[]);
    let run = Cli::run("rust-http-get", &policy, &[], &[&srv.url("/api/items")])
        .env_remove(TOKEN_VAR)
        .output();
    check!(run.code == Some(78), run);
    let want = format!(
        "sandnet: {}:3: secret header \"authorization\": environment variable {TOKEN_VAR} is not set (export it before starting sandnet)\n",
        policy.path.display()
    );
    assert_eq!(run.stderr, want);
    assert!(srv.seen().is_empty());
}

#[test]
fn a_guest_header_of_the_same_name_is_refused() {
    let srv = Recorder::start();
    let text = guest_section(&format!(
        "allow = [{{ rule = \"{}\", headers = {{ Authorization = {{ file = \"token\" }} }} }}]",
        srv.url("/api/*")
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).expect("token file");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, &text).expect("policy");
    let policy = sandnet::policy::Policy::from_file(&path).expect("policy parses");
    let guest = Arc::new(policy.guest(None).expect("one guest").clone());
    let pins = Arc::new(sandnet::net::common::pins::NoPins);
    let refs = sandnet::net::common::refs::load(&guest, pins).expect("secret file readable");
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio.block_on(async {
        let dialer = RecordingDialer::new(DialMode::LoopbackOnly);
        let guard = Arc::new(Guard::new(guest, guard_with(&[], &dialer, Audit::off())));
        guard.use_secrets(refs.secrets);
        let client = HttpClient::new(guard, refs.tls);
        let settings = lib_http_settings;
        let own = [("AUTHORIZATION".to_owned(), "Bearer mine".to_owned())];
        let spec = RequestSpec::new("GET", &srv.url("/api/a"), &own, None).expect("spec");
        let err = client.send(spec, settings()).await.err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid argument: header \"authorization\" is set by the host from its policy for this target; remove it from the request")
        );
        let spec = RequestSpec::new("GET", &srv.url("/api/b"), &[], None).expect("spec");
        let sent = client.send(spec, settings()).await;
        assert!(sent.is_ok(), "{sent:?}");
    });
    // Only the request without a header of its own was sent, with the file's secret.
    assert_eq!(srv.seen(), [("/api/b".to_owned(), Some(TOKEN.to_owned()))]);
}

#[test]
fn the_websocket_handshake_carries_the_secret_and_refuses_the_guests_own() {
    let srv = WsServer::start(None, |_, io, log| {
        Box::pin(async move {
            #[allow(clippy::result_large_err, reason = "tungstenite's callback signature")]
            let record = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
                let auth = req
                    .headers()
                    .get("x-api-key")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                lock(&log).push(format!("key {auth:?}"));
                Ok(resp)
            };
            if let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(io, record).await {
                use futures::{SinkExt, StreamExt};
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            }
        })
    });
    let policy = policy(&format!(
        "allow = [{{ rule = \"{}\", headers = {{ x-api-key = {{ env = \"{TOKEN_VAR}\" }} }} }}]",
        srv.url("ws", "/chat")
    ));
    let audit = policy.dir.path().join("audit.jsonl");
    let audit_arg = format!("--audit={}", audit.display());
    let run = Cli::run(
        "rust-ws-client",
        &policy,
        &[&audit_arg],
        &[&srv.url("ws", "/chat"), "hi"],
    )
    .env(TOKEN_VAR, TOKEN)
    .output();
    check!(run.code == Some(0) && run.stdout.starts_with("hi\n"), run);
    let log = std::fs::read_to_string(&audit).expect("audit log");
    assert!(
        audit_events(&log).iter().any(|e| e["event"] == "close"),
        "the session's close event is written (and holds no secret):\n{log}"
    );
    assert_token_hidden(&run, &log);
    assert_eq!(srv.log(), [format!("key Some({TOKEN:?})")]);

    // The guest's env comes from the policy only, so its header is set there.
    let with_header = policy_with_env(&policy, "WS_CLIENT_HEADER", "X-Api-Key: guess");
    let run = Cli::run(
        "rust-ws-client",
        &with_header,
        &[],
        &[&srv.url("ws", "/chat"), "hi"],
    )
    .env(TOKEN_VAR, TOKEN)
    .output();
    check!(run.code == Some(1), run);
    check!(
        run.stderr.contains("header \"x-api-key\" is set by the host from its policy for this target; remove it from the request"),
        run
    );
    assert_eq!(
        srv.connections(),
        1,
        "the refused handshake never connected"
    );
}

/// `policy` with `NAME = VALUE` in the guest's `env`.
fn policy_with_env(policy: &PolicyFile, name: &str, value: &str) -> PolicyFile {
    write_policy(&format!(
        "{}env = {{ {name} = \"{value}\" }}\n",
        policy.text
    ))
}
