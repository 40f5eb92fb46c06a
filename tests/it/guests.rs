//! Guests from any language: every JavaScript and C guest that
//! scripts/build-guests.sh builds, run through the CLI against loopback
//! servers, allowed and denied, holding the same output and exit contract as
//! the Rust and Python guests where that contract has no shared test (the
//! shared ones run every language from the interface's own module); and
//! `sandnet new` for every language, each scaffold built with the one command
//! it prints and run under a policy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::assertions::{Denial, assert_denied_unreached, check};
use crate::support::guests::{Cli, Output, for_each_lang, repo_root, run_cli};
use crate::support::policy::{allow_only, policy, write_policy};
use crate::support::servers::{Behaviour, LineServer, Server, SseServer, WsServer};

// ---------------------------------------------------------------------------
// http-get: `http-get URL [METHOD [BODY]]`, same contract as Rust and Python
// (the allowed GET, POST and status cases run for every language in tests/http.rs)

for_each_lang!([js, c] "http-get":
    http_large_body_verbatim,
    http_denied_names_the_line,
    http_bad_usage_exits_2,
    http_timeout_is_a_net_error,
);

/// Larger than one `blocking-write-and-flush` (4096 bytes) and one read.
fn http_large_body_verbatim(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/big"));
    let out = run_cli(guest, &p, &[], &[&srv.url("/big?n=300000")]);
    check!(out.code == Some(0), out);
    let expected = format!("200\n{}", "x".repeat(300_000));
    check!(
        out.stdout == expected,
        out,
        "stdout is {} bytes",
        out.stdout.len()
    );
}

fn http_denied_names_the_line(guest: &str) {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let out = run_cli(guest, &p, &[], &[&srv.url("/echo")]);
    assert_denied_unreached(
        &out,
        Denial::Guest("http-get"),
        &srv.url("/echo"),
        srv.connections(),
    );
}

fn http_bad_usage_exits_2(guest: &str) {
    let p = policy("allow = []");
    let out = run_cli(guest, &p, &[], &[]);
    check!(out.code == Some(2), out);
    check!(
        out.stderr
            .starts_with("http-get: usage: http-get URL [METHOD [BODY]]"),
        out
    );
}

fn http_timeout_is_a_net_error(guest: &str) {
    let srv = Server::black_hole();
    let p = policy(&format!(
        "allow = [\"{}\"]\nenv = {{ HTTP_GET_TIMEOUT_MS = \"300\" }}",
        srv.url("/ok")
    ));
    let out = run_cli(guest, &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("http-get: timeout: "), out);
}

// ---------------------------------------------------------------------------
// fetch-get: standard `fetch()` only, through the policy-gated wasi:http

#[test]
fn fetch_get_allowed() {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let out = run_cli("js-fetch-get", &p, &[], &[&srv.url("/ok")]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nhello", out);
    assert_eq!(srv.seen(), ["GET /ok"]);
}

#[test]
fn fetch_get_post_echoes_body() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"POST {}\"]", srv.url("/echo")));
    let out = run_cli(
        "js-fetch-get",
        &p,
        &[],
        &[&srv.url("/echo"), "POST", "ping"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "200\nPOST ping", out);
}

#[test]
fn fetch_get_denied() {
    let srv = Server::http();
    let p = allow_only(&srv.url("/ok"));
    let out = run_cli("js-fetch-get", &p, &[], &[&srv.url("/echo")]);
    // The guest only sees the standard error code; sandnet's stderr carries
    // the policy line to add.
    assert_denied_unreached(
        &out,
        Denial::Wasi("fetch-get: "),
        &srv.url("/echo"),
        srv.connections(),
    );
}

// ---------------------------------------------------------------------------
// tcp-client: `tcp-client URL [MESSAGE]` against a loopback echo server

for_each_lang!([js, c] "tcp-client": tcp_allowed_echo, tcp_denied_names_the_line);

fn tcp_allowed_echo(guest: &str) {
    let echo = LineServer::plain(Behaviour::WholeEcho);
    let p = allow_only(&echo.url("tcp"));
    let out = run_cli(guest, &p, &[], &[&echo.url("tcp"), "ping pong ü"]);
    check!(out.code == Some(0), out);
    check!(out.stdout == "ping pong ü", out);
    assert_eq!(echo.connections(), 1);
}

fn tcp_denied_names_the_line(guest: &str) {
    let granted = LineServer::plain(Behaviour::WholeEcho);
    let other = LineServer::plain(Behaviour::WholeEcho);
    let p = allow_only(&granted.url("tcp"));
    let out = run_cli(guest, &p, &[], &[&other.url("tcp"), "ping"]);
    assert_denied_unreached(
        &out,
        Denial::Guest("tcp-client"),
        &other.url("tcp"),
        other.connections(),
    );
}

// ---------------------------------------------------------------------------
// ws-client: `ws-client URL [MESSAGE...]` against a loopback echo server

#[test]
fn ws_allowed_echo() {
    let srv = WsServer::plain();
    let p = allow_only(&srv.url("ws", "/chat"));
    let out = run_cli(
        "js-ws-client",
        &p,
        &[],
        &[&srv.url("ws", "/chat"), "one", "two ü"],
    );
    check!(out.code == Some(0), out);
    check!(out.stdout == "one\ntwo ü\n", out);
    assert_eq!(srv.connections(), 1);
}

#[test]
fn ws_denied_names_the_line() {
    let srv = WsServer::plain();
    let p = allow_only(&srv.url("ws", "/chat"));
    let out = run_cli("js-ws-client", &p, &[], &[&srv.url("ws", "/admin"), "one"]);
    assert_denied_unreached(
        &out,
        Denial::Guest("ws-client"),
        &srv.url("ws", "/admin"),
        srv.connections(),
    );
}

// ---------------------------------------------------------------------------
// web-platform: a plain script (no import, no export) on fetch, WebSocket,
// EventSource and timers, as a browser or Deno runs it

/// The `ticks` line's offsets in milliseconds.
fn ticks_of(out: &Output) -> Vec<u64> {
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("ticks "))
        .unwrap_or_else(|| panic!("no ticks line\n{out}"));
    line.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap_or_else(|_| panic!("tick {t:?}\n{out}")))
        .collect()
}

#[test]
fn js_plain_script_runs_fetch_websocket_eventsource_and_timers_concurrently() {
    let http = Server::http();
    let ws = WsServer::plain();
    let sse = SseServer::serving("id: 7\ndata: one\n\nevent: tick\nid: 8\ndata: two\n\n");
    let p = policy(&format!(
        "allow = [\"{}\", \"{}\", \"{}\"]",
        http.url("/slow"),
        ws.url("ws", "/chat"),
        sse.url("/events")
    ));
    let out = run_cli(
        "js-web-platform",
        &p,
        &[],
        &[&http.url(""), &ws.url("ws", "/chat"), &sse.url("/events")],
    );
    check!(out.code == Some(0), out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    check!(lines.len() == 8, out);

    // Two 1 s requests under Promise.all: both reached the server at once and
    // both answered within ~1 s (one after the other would take 2 s).
    let fetch: Vec<&str> = lines[0].split(' ').collect();
    check!(fetch[..5] == ["fetch", "200", "200", "slow", "slow"], out);
    let took: u64 = fetch[5].parse().expect("fetch time");
    check!(
        (1000..1600).contains(&took),
        out,
        "two 1 s requests took {took} ms"
    );
    let accepted = http.accepted_at();
    check!(accepted.len() == 2, out);
    let gap = accepted[1].duration_since(accepted[0]);
    check!(
        gap < Duration::from_millis(300),
        out,
        "second request {gap:?} after the first"
    );

    // A 250 ms interval fired on time while both sockets waited.
    let ticks = ticks_of(&out);
    check!(ticks.len() >= 3, out, "ticks {ticks:?}");
    check!(
        (240..450).contains(&ticks[0]),
        out,
        "first tick at {}",
        ticks[0]
    );
    for pair in ticks.windows(2) {
        check!(pair[1] - pair[0] < 400, out, "ticks {ticks:?}");
    }

    check!(lines[2] == "ws open 1 \"\"", out);
    check!(lines[3] == "ws message echo:hello", out);
    check!(lines[4] == "ws close 4000 requested true 3", out);
    check!(lines[5] == "sse message one 7", out);
    check!(lines[6] == "sse tick two 8 1", out);
    check!(lines[7] == "done", out);
    check!(
        ws.log()
            .starts_with(&["1: text hello".to_owned(), "1: text close-me".to_owned()]),
        out
    );
}

// ---------------------------------------------------------------------------
// JavaScript's own conformance case (the shared ones: tests/it/conformance.rs)

#[test]
fn js_form_data_goes_out_as_multipart() {
    let srv = Server::http();
    let p = policy(&format!("allow = [\"{}\"]", srv.url("/echo")));
    let out = run_cli("js-conformance", &p, &[], &["form", &srv.url("/echo")]);
    check!(out.code == Some(0), out);
    // The closing boundary ends with CRLF, as browsers send it: hence `END|`.
    check!(
        out.stdout
            == "200\nBOUNDARY|Content-Disposition: form-data; name=\"field\"||value ü|\
                BOUNDARY|Content-Disposition: form-data; name=\"doc\"; filename=\"h.txt\"|\
                Content-Type: text/plain||hi|END|\n",
        out
    );
}

// ---------------------------------------------------------------------------
// sandnet new

/// Runs `sandnet new --lang LANG DIR`.
fn sandnet_new(lang: &str, dir: &Path) -> Output {
    Cli::new(["new", "--lang", lang, dir.to_str().expect("UTF-8 path")]).output()
}

/// Files every scaffold has, plus each language's own.
fn expected_files(lang: &str) -> Vec<&'static str> {
    let mut files = vec![
        "policy.toml",
        ".gitignore",
        "wit/world.wit",
        "wit/http.wit",
        "wit/types.wit",
        "wit/deps/io/io.wit",
        "wit/deps/cli/cli.wit",
    ];
    files.extend(match lang {
        "rust" => &["Cargo.toml", "src/main.rs"][..],
        "python" => &[
            "app.py",
            "sandnet/__init__.py",
            "sandnet/http.py",
            "sandnet/poll.py",
            "build.sh",
        ][..],
        "js" => &[
            "app.js",
            "entry.mjs",
            "sandnet.js",
            "sandnet/web/fetch.js",
            "sandnet/http.js",
            "sandnet/poll.js",
            "package.json",
            "build.sh",
        ][..],
        "c" => &[
            "main.c",
            "sandnet.h",
            "sandnet.c",
            "build.sh",
            "adapter/Cargo.toml",
            "adapter/Cargo.lock",
        ][..],
        _ => unreachable!("unknown language {lang}"),
    });
    files
}

#[test]
fn new_writes_every_language() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for lang in ["rust", "python", "js", "c"] {
        let dir = tmp.path().join(format!("demo-{lang}"));
        let out = sandnet_new(lang, &dir);
        check!(out.code == Some(0), out);
        check!(out.stdout.contains("build it:"), out);
        check!(
            out.stdout
                .contains("--policy policy.toml -- http://127.0.0.1:8080/"),
            out
        );
        for file in expected_files(lang) {
            check!(dir.join(file).is_file(), out, "{lang}: {file} is missing");
        }
        let policy = std::fs::read_to_string(dir.join("policy.toml")).expect("policy");
        check!(
            policy.contains(&format!("[guest.demo-{lang}]")),
            out,
            "{policy}"
        );
        let check = Cli::new(["check", dir.join("policy.toml").to_str().expect("UTF-8")]).output();
        check!(check.code == Some(0), check, "the starter policy is valid");
    }
}

#[test]
fn new_refuses_bad_names_and_non_empty_dirs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = sandnet_new("rust", &tmp.path().join("Demo"));
    check!(out.code == Some(2), out);
    check!(
        out.stderr.contains("\"") && out.stderr.contains("Demo"),
        out
    );
    check!(out.stderr.contains("lowercase"), out);

    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).expect("mkdir");
    std::fs::write(taken.join("keep.txt"), "mine").expect("write");
    let out = sandnet_new("c", &taken);
    check!(out.code == Some(2), out);
    check!(out.stderr.contains("already exists and is not empty"), out);
    assert_eq!(
        std::fs::read_to_string(taken.join("keep.txt")).expect("read"),
        "mine"
    );
}

/// The printed build command, component path and policy of a scaffold.
struct Scaffold {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    build: String,
    component: PathBuf,
}

/// Scaffolds `lang` with `sandnet new` and reads the build command it printed
/// (the line after "build it:", `cd DIR && COMMAND`).
fn scaffold(lang: &str) -> Scaffold {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let out = sandnet_new(lang, &dir);
    check!(out.code == Some(0), out);
    let mut lines = out.stdout.lines().map(str::trim);
    let build = lines
        .by_ref()
        .skip_while(|l| *l != "build it:")
        .nth(1)
        .and_then(|l| l.split_once(" && "))
        .map(|(_, cmd)| cmd.to_owned())
        .unwrap_or_else(|| panic!("no build command printed:\n{out}"));
    let component = lines
        .find_map(|l| l.strip_prefix("sandnet run "))
        .and_then(|l| l.split_whitespace().next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no run command printed:\n{out}"));
    Scaffold {
        _tmp: tmp,
        dir,
        build,
        component,
    }
}

/// Runs the scaffold's build command in its directory.
fn build_scaffold(s: &Scaffold, env: &[(&str, &Path)]) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(&s.build).current_dir(&s.dir);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("run the build command");
    assert!(
        out.status.success(),
        "`{}` failed in {}:\n{}\n{}",
        s.build,
        s.dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The component the printed command built.
fn built(component: PathBuf) -> PathBuf {
    assert!(component.is_file(), "{} was not built", component.display());
    component
}

/// Runs a built scaffold: allowed by a policy granting a loopback server,
/// then denied by its own starter policy with the line to add.
fn run_scaffold(component: &Path, s: &Scaffold) {
    let srv = Server::http();
    let granted = write_policy(&format!("[guest.demo]\nallow = [\"{}\"]\n", srv.url("/ok")));
    let run = |policy: &str| {
        Cli::new([
            "run",
            component.to_str().expect("UTF-8"),
            "--policy",
            policy,
            "--",
            &srv.url("/ok"),
        ])
        .output()
    };
    let out = run(granted.arg());
    check!(out.code == Some(0), out);
    check!(out.stdout.starts_with("200\nhello"), out);

    let starter = s.dir.join("policy.toml");
    let out = run(starter.to_str().expect("UTF-8"));
    check!(out.code == Some(1), out);
    check!(out.stderr.starts_with("demo: denied: "), out);
    check!(
        out.stderr.contains(&format!(
            "hint: add to the policy's allow list: \"{}\"",
            srv.url("/ok")
        )),
        out
    );
    assert_eq!(srv.seen(), ["GET /ok"], "only the granted run reached it");
}

#[test]
fn new_rust_builds_and_runs() {
    let s = scaffold("rust");
    assert_eq!(s.build, "cargo build --release --target wasm32-wasip2");
    // A target dir kept between test runs: wit-bindgen compiles once.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-rust-target");
    build_scaffold(&s, &[("CARGO_TARGET_DIR", &target)]);
    let relative = s.component.strip_prefix("target").expect("under target/");
    let component = built(target.join(relative));
    run_scaffold(&component, &s);
}

/// `sandnet new --lang LANG` gives a project whose `./build.sh` builds a
/// component that runs; `tools` links the repo's pinned toolchain (a path in
/// the repo, scripts/setup.sh installs it) into the project instead of a download.
fn scripted_scaffold_builds_and_runs(lang: &str, tools: Option<(&str, &str)>) {
    let s = scaffold(lang);
    assert_eq!(s.build, "./build.sh");
    if let Some((in_repo, in_project)) = tools {
        link(&repo_root().join(in_repo), &s.dir.join(in_project));
    }
    build_scaffold(&s, &[]);
    let component = built(s.dir.join(&s.component));
    run_scaffold(&component, &s);
}

#[test]
fn new_c_builds_and_runs() {
    scripted_scaffold_builds_and_runs("c", None);
}

#[test]
fn new_js_builds_and_runs() {
    scripted_scaffold_builds_and_runs("js", Some(("guests/js/node_modules", "node_modules")));
}

#[test]
fn new_python_builds_and_runs() {
    // The build script takes componentize-py from the shared toolchain cache
    // ($SANDNET_TOOLCHAINS); point it at the repo's pinned one.
    let s = scaffold("python");
    assert_eq!(s.build, "./build.sh");
    let toolchains = s.dir.with_file_name(format!(
        "{}-toolchains",
        s.dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 name")
    ));
    std::fs::create_dir_all(&toolchains).expect("toolchain dir");
    link(
        &repo_root().join(".tools/venv"),
        &toolchains.join("componentize-py-0.25.1"),
    );
    build_scaffold(&s, &[("SANDNET_TOOLCHAINS", &toolchains)]);
    let component = built(s.dir.join(&s.component));
    run_scaffold(&component, &s);
}

fn link(target: &Path, at: &Path) {
    assert!(
        target.is_dir(),
        "{} is missing: run scripts/setup.sh first",
        target.display()
    );
    std::os::unix::fs::symlink(target, at).expect("symlink");
}
