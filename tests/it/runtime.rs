//! The runtime's limits and WASI basics, with the `hostile` guest: memory cap,
//! wall-clock deadline, environment only from the policy, args, exit codes, and
//! the compiled-component cache.

use std::path::Path;
use std::time::Duration;

use crate::support::assertions::check;
use crate::support::guests::{Cli, Output, guest, run_cli, run_lib};
use crate::support::policy::write_policy;
use crate::support::recording::{DialMode, RecordingDialer, guard_with};
use sandnet::ExitStatus;
use sandnet::audit::Audit;

const HOSTILE: &str = "rust-hostile";

fn lib_guard() -> sandnet::guard::GuardConfig {
    guard_with(
        &[],
        &RecordingDialer::new(DialMode::LoopbackOnly),
        Audit::off(),
    )
}

/// Through the CLI, the limit in `limits` stopped `hostile MODE`: exit
/// `code`, the message names `limit`, and it ended before `within`.
#[track_caller]
fn assert_cli_stopped(
    limits: &str,
    mode: &str,
    code: i32,
    limit: &str,
    within: Duration,
) -> Output {
    let p = write_policy(&format!("[guest.h]\n[guest.h.limits]\n{limits}\n"));
    let out = run_cli(HOSTILE, &p, &[], &[mode]);
    check!(out.code == Some(code), out);
    check!(
        out.stderr.contains(limit),
        out,
        "the message names the limit"
    );
    check!(
        out.elapsed < within,
        out,
        "stopped by {limit} well before {within:?}"
    );
    out
}

/// Through the library, the limit in `limits` stopped `hostile MODE` with
/// `status` (exit `code`) before `within`.
#[track_caller]
fn assert_lib_stopped(limits: &str, mode: &str, status: ExitStatus, code: i32, within: Duration) {
    let text = format!("[guest.h]\n[guest.h.limits]\n{limits}\n");
    let run = run_lib(HOSTILE, &text, &[mode], lib_guard());
    check!(run.outcome.status == status, run);
    check!(run.outcome.status.code() == code, run);
    check!(run.elapsed < within, run);
}

#[test]
fn memory_cap_stops_the_guest_cli() {
    let limits = "memory = \"64 MiB\"\nwall_time = \"60s\"";
    assert_cli_stopped(limits, "alloc", 125, "memory", Duration::from_secs(20));
}

#[test]
fn memory_cap_stops_the_guest_lib() {
    let status = ExitStatus::MemoryExceeded(32 * 1024 * 1024);
    let limits = "memory = \"32 MiB\"\nwall_time = \"60s\"";
    assert_lib_stopped(limits, "alloc", status, 125, Duration::from_secs(20));
}

#[test]
fn wall_time_stops_a_spinning_guest_cli() {
    let limits = "wall_time = \"1s\"";
    let out = assert_cli_stopped(limits, "spin", 124, "wall_time", Duration::from_secs(10));
    check!(
        out.elapsed >= Duration::from_secs(1),
        out,
        "not before the deadline"
    );
}

#[test]
fn wall_time_stops_a_spinning_guest_lib() {
    let status = ExitStatus::WallTimeExceeded(Duration::from_secs(1));
    assert_lib_stopped(
        "wall_time = \"1s\"",
        "spin",
        status,
        124,
        Duration::from_secs(10),
    );
}

#[test]
fn environment_comes_only_from_the_policy() {
    let p = write_policy(
        "[guest.h]\nenv = { GREETING = \"hi there\", EMPTY = \"\", TOKEN = \"a=b\" }\n",
    );
    let out = Cli::run(HOSTILE, &p, &[], &["env"])
        .env("SANDNET_TEST_SECRET", "must-not-leak")
        .output();
    check!(out.code == Some(0), out);
    check!(
        out.stdout == "GREETING=hi there\nEMPTY=\nTOKEN=a=b\n",
        out,
        "exactly the policy's env, in order"
    );
    check!(
        !out.stdout.contains("must-not-leak") && !out.stdout.contains("PATH="),
        out
    );
}

#[test]
fn empty_environment_without_env_table() {
    let run = run_lib(HOSTILE, "[guest.h]\n", &["env"], lib_guard());
    check!(run.outcome.status == ExitStatus::Exited(0), run);
    check!(run.stdout.is_empty(), run, "no env table, no variables");
}

#[test]
fn args_pass_through() {
    let p = write_policy("[guest.h]\n");
    let out = run_cli(HOSTILE, &p, &[], &["args", "a", "b c", "--flag", "", "ü"]);
    check!(out.code == Some(0), out);
    let (argv0, rest) = out.stdout.split_once('\n').expect("at least argv[0]");
    check!(
        argv0 == "rust-hostile.wasm",
        out,
        "argv[0] is the component's file name"
    );
    check!(
        rest == "args\na\nb c\n--flag\n\nü\n",
        out,
        "every argument verbatim, empty ones included"
    );
}

#[test]
fn exit_code_passes_through_cli() {
    let p = write_policy("[guest.h]\n");
    for code in [0, 7, 255] {
        let out = run_cli(HOSTILE, &p, &[], &["exit", &code.to_string()]);
        check!(out.code == Some(code), out);
        check!(out.stdout == "bye\n", out);
    }
}

#[test]
fn trap_is_reported_with_its_own_status() {
    let p = write_policy("[guest.h]\n");
    let out = run_cli(HOSTILE, &p, &[], &["trap"]);
    check!(out.code == Some(70), out);
    check!(
        out.stdout == "about to trap\n",
        out,
        "output before the trap is kept"
    );
    check!(out.stderr.contains("guest trapped"), out);
    let run = run_lib(HOSTILE, "[guest.h]\n", &["trap"], lib_guard());
    check!(matches!(run.outcome.status, ExitStatus::Trapped(_)), run);
}

#[test]
fn exit_code_passes_through_lib() {
    let run = run_lib(HOSTILE, "[guest.h]\n", &["exit", "7"], lib_guard());
    check!(run.outcome.status == ExitStatus::Exited(7), run);
    check!(run.stdout == "bye\n", run);
}

fn cwasm_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    names.sort();
    names
}

#[test]
fn compile_cache_is_written_then_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let p = write_policy("[guest.h]\n");
    let run = || {
        Cli::run(HOSTILE, &p, &[], &["exit", "3"])
            .env("SANDNET_CACHE_DIR", &cache)
            .output()
    };

    let first = run();
    check!(first.code == Some(3), first);
    let after_first = cwasm_files(&cache);
    check!(
        after_first.len() == 1,
        first,
        "one .cwasm in {}: {after_first:?}",
        cache.display()
    );

    let second = run();
    check!(second.code == Some(3), second);
    check!(second.stdout == "bye\n", second);
    assert_eq!(
        cwasm_files(&cache),
        after_first,
        "the second run reuses the same entry"
    );
}

/// The cache is keyed on the component file's identity and change time, not its
/// bytes: a component rewritten in place (same path, same second) must be
/// compiled again, never served from the entry of its old contents.
#[test]
fn component_rewritten_in_place_is_compiled_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let component = tmp.path().join("guest.wasm");
    let p = write_policy("[guest.h]\n");
    let run = || {
        let argv: Vec<std::ffi::OsString> = vec![
            "run".into(),
            component.clone().into_os_string(),
            "--policy".into(),
            p.arg().into(),
            "--".into(),
            "exit".into(),
            "3".into(),
        ];
        Cli::new(argv).env("SANDNET_CACHE_DIR", &cache).output()
    };
    std::fs::copy(guest(HOSTILE), &component).unwrap();
    let first = run();
    check!(first.code == Some(3), first);
    std::fs::write(&component, std::fs::read(guest("rust-http-bench")).unwrap()).unwrap();
    let second = run();
    check!(
        second.code == Some(1) && second.stderr.contains("http-bench: invalid-argument"),
        second,
        "the rewritten component (http-bench) must run, not the cached hostile guest"
    );
    check!(
        cwasm_files(&cache).len() == 2,
        second,
        "one entry per contents"
    );
}

#[test]
fn no_cache_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let p = write_policy("[guest.h]\n");
    let out = Cli::run(HOSTILE, &p, &["--no-cache"], &["exit", "0"])
        .env("SANDNET_CACHE_DIR", &cache)
        .output();
    check!(out.code == Some(0), out);
    check!(
        cwasm_files(&cache).is_empty(),
        out,
        "--no-cache must not write {}",
        cache.display()
    );
}

/// The cache stays within `SANDNET_CACHE_MAX_BYTES`: a new entry evicts the
/// least recently used ones, and a cache hit counts as a use.
#[test]
fn compile_cache_keeps_to_its_budget_evicting_the_least_recently_used() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let p = write_policy("[guest.h]\n");
    let copies: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let path = tmp.path().join(format!("{name}.wasm"));
            std::fs::copy(guest(HOSTILE), &path).unwrap();
            path
        })
        .collect();
    let run = |component: &std::path::Path, budget: &str| {
        let argv: Vec<std::ffi::OsString> = vec![
            "run".into(),
            component.as_os_str().to_owned(),
            "--policy".into(),
            p.arg().into(),
            "--".into(),
            "exit".into(),
            "3".into(),
        ];
        let out = Cli::new(argv)
            .env("SANDNET_CACHE_DIR", &cache)
            .env("SANDNET_CACHE_MAX_BYTES", budget)
            .output();
        check!(out.code == Some(3), out);
    };
    run(&copies[0], "1 GiB");
    let entry_a = cwasm_files(&cache);
    check!(entry_a.len() == 1, "{entry_a:?}");
    let one_entry = std::fs::metadata(cache.join(&entry_a[0])).unwrap().len();
    // Room for two entries of this guest, not three.
    let budget = (one_entry * 2 + one_entry / 2).to_string();
    std::thread::sleep(Duration::from_millis(20));
    run(&copies[1], &budget);
    let entry_b: Vec<_> = cwasm_files(&cache)
        .into_iter()
        .filter(|n| !entry_a.contains(n))
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    run(&copies[0], &budget); // a hit: `a` becomes the most recently used
    std::thread::sleep(Duration::from_millis(20));
    run(&copies[2], &budget);
    let left = cwasm_files(&cache);
    check!(left.len() == 2, "{left:?}");
    check!(
        left.contains(&entry_a[0]) && !left.contains(&entry_b[0]),
        "b was the least recently used and goes; a (hit after b) stays: {left:?}"
    );
}

#[test]
fn a_cache_budget_that_is_not_a_size_is_refused_with_the_value() {
    let p = write_policy("[guest.h]\n");
    let out = Cli::run(HOSTILE, &p, &[], &["exit", "0"])
        .env("SANDNET_CACHE_MAX_BYTES", "lots")
        .output();
    check!(out.code != Some(0), out);
    check!(
        out.stderr
            .contains("SANDNET_CACHE_MAX_BYTES=\"lots\" is not a size"),
        out
    );
}

#[test]
fn cache_dir_writable_by_others_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = write_policy("[guest.h]\n");
    let out = Cli::run(HOSTILE, &p, &[], &["exit", "0"])
        .env("SANDNET_CACHE_DIR", &cache)
        .output();
    check!(out.code == Some(0), out, "the run itself still works");
    check!(
        cwasm_files(&cache).is_empty(),
        out,
        "a world-writable cache must not be written (or trusted)"
    );
}

#[test]
fn cpu_time_stops_a_spinning_guest_cli() {
    let limits = "cpu_time = \"300ms\"\nwall_time = \"60s\"";
    assert_cli_stopped(limits, "spin", 152, "cpu_time", Duration::from_secs(20));
}

#[test]
fn cpu_time_stops_a_spinning_guest_lib() {
    let status = ExitStatus::CpuTimeExceeded(Duration::from_millis(300));
    let limits = "cpu_time = \"300ms\"\nwall_time = \"60s\"";
    assert_lib_stopped(limits, "spin", status, 152, Duration::from_secs(20));
}

#[test]
fn cpu_time_does_not_count_waiting() {
    // A guest that sleeps three times its CPU budget is not stopped by it.
    let text = "[guest.h]\n[guest.h.limits]\ncpu_time = \"200ms\"\n";
    let run = run_lib(HOSTILE, text, &["sleep", "600"], lib_guard());
    check!(run.outcome.status == ExitStatus::Exited(0), run);
    check!(run.elapsed >= Duration::from_millis(600), run);
    check!(
        run.outcome.cpu_time < Duration::from_millis(200),
        run,
        "sleeping is not CPU time"
    );
}

#[test]
fn unlimited_wall_time_is_accepted() {
    let text = "[guest.h]\n[guest.h.limits]\nwall_time = \"unlimited\"\n";
    let run = run_lib(HOSTILE, text, &["exit", "3"], lib_guard());
    check!(run.outcome.status == ExitStatus::Exited(3), run);
}

#[test]
fn a_trap_is_one_line_unless_asked_for_the_backtrace() {
    let p = write_policy("[guest.h]\n");
    let out = Cli::run(HOSTILE, &p, &[], &["trap"])
        .env_remove("RUST_BACKTRACE")
        .output();
    check!(out.code == Some(70), out);
    check!(
        out.stderr
            == "sandnet: guest trapped: wasm trap: wasm `unreachable` instruction executed (the wasm backtrace: sandnet run -v, or RUST_BACKTRACE=1)\n",
        out
    );
    let verbose = Cli::run(HOSTILE, &p, &["-v"], &["trap"])
        .env_remove("RUST_BACKTRACE")
        .output();
    check!(verbose.code == Some(70), verbose);
    check!(verbose.stderr.contains("wasm backtrace:"), verbose);
}

#[test]
fn an_uncaught_python_exception_prints_its_traceback_and_nothing_else() {
    let p = write_policy("[guest.c]\n");
    let out = Cli::run("python-conformance", &p, &[], &["raise", "boom"])
        .env_remove("RUST_BACKTRACE")
        .output();
    check!(out.code == Some(1), out);
    check!(
        out.stderr
            .starts_with("Traceback (most recent call last):\n"),
        out
    );
    check!(out.stderr.ends_with("RuntimeError: boom\n"), out);
    for noise in ["panicked", "wasm backtrace", "guest trapped", "unreachable"] {
        check!(
            !out.stderr.contains(noise),
            out,
            "no {noise:?} after the traceback"
        );
    }
}

#[test]
fn a_closed_stdout_ends_the_guest_quietly_with_141() {
    use std::io::BufRead;

    let p = write_policy("[guest.h]\n");
    let many: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    let many: Vec<&str> = std::iter::once("args")
        .chain(many.iter().map(String::as_str))
        .collect();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sandnet"))
        .args([
            "run",
            crate::support::guests::guest(HOSTILE).to_str().unwrap(),
        ])
        .args(["--policy", p.arg(), "--"])
        .args(&many)
        .env(
            "SANDNET_CACHE_DIR",
            crate::support::guests::shared_cache_dir(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then go away like `head -1`.
    let mut first = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap();
    check!(first.ends_with("rust-hostile.wasm\n"), first);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    check!(output.status.code() == Some(141), stderr);
    check!(stderr.is_empty(), stderr, "no panic, trap or host noise");
}

#[test]
fn a_file_that_is_not_a_component_gets_one_line_with_the_fix() {
    let p = write_policy("[guest.h]\n");
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "text.wasm",
            b"hello world".to_vec(),
            "is not a WebAssembly file",
        ),
        (
            "core.wasm",
            b"\0asm\x01\0\0\0".to_vec(),
            "is a core WebAssembly module, not a component; build for wasm32-wasip2",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = Cli::new(["run", path.to_str().unwrap(), "--policy", p.arg()]).output();
        check!(out.code == Some(71), out);
        check!(out.stderr.contains(want), out);
        check!(out.stderr.lines().count() == 1, out, "one line");
    }
}

/// On a terminal, a compilation says so in one line; piped, it stays quiet.
#[test]
fn a_first_compile_is_announced_on_a_terminal_only() {
    let p = write_policy("[guest.h]\n");
    let piped = Cli::run(HOSTILE, &p, &["--no-cache"], &["exit", "0"]).output();
    check!(piped.code == Some(0), piped);
    check!(!piped.stderr.contains("compiling"), piped);

    // util-linux `script` gives the command a terminal.
    let command = format!(
        "{} run --no-cache {} --policy {} -- exit 0",
        env!("CARGO_BIN_EXE_sandnet"),
        crate::support::guests::guest(HOSTILE).display(),
        p.arg()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("util-linux `script` is installed (it gives the test a terminal)");
    let text = String::from_utf8_lossy(&out.stdout);
    check!(out.status.success(), text);
    check!(
        text.contains("sandnet: compiling rust-hostile.wasm (0.1 MB; --no-cache)"),
        text
    );
}
