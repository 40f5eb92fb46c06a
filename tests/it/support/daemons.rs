//! Real message brokers (nats-server, mosquitto) started on 127.0.0.1 for one test and killed when dropped; a missing binary fails the test loudly unless its skip variable is set.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::free_port;

/// A broker process listening on 127.0.0.1:`port`.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    port: u16,
    /// Keeps a config file alive while the broker runs.
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `SCHEME://127.0.0.1:PORT`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// nats-server on a free port, or `None` when it is missing and
    /// `SANDNET_SKIP_NATS=1` says to skip.
    pub fn nats() -> Option<Daemon> {
        let binary = find("nats-server", "nats-server", "SANDNET_SKIP_NATS")?;
        let port = free_port();
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nats-server: {e}"));
        Some(Daemon::ready(child, port, None))
    }

    /// mosquitto on a free port (anonymous clients allowed), or `None` when
    /// it is missing and `SANDNET_SKIP_MQTT=1` says to skip.
    pub fn mosquitto() -> Option<Daemon> {
        let binary = find(
            "mosquitto",
            "mosquitto mosquitto-clients",
            "SANDNET_SKIP_MQTT",
        )?;
        find("mosquitto_sub", "mosquitto-clients", "SANDNET_SKIP_MQTT")?;
        let port = free_port();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start mosquitto: {e}"));
        Some(Daemon::ready(child, port, Some(dir)))
    }

    /// Waits until the port accepts connections.
    fn ready(child: Child, port: u16, dir: Option<tempfile::TempDir>) -> Daemon {
        let mut daemon = Daemon {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("the broker on port {port} exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the broker never listened on 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }
}

/// The path of `command`, or `None` after a loud message when `skip` is set;
/// without it a missing command fails the test.
pub fn find(command: &str, packages: &str, skip: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]
        .into_iter()
        .map(|dir| Path::new(dir).join(command))
        .find(|p| p.is_file());
    if found.is_some() {
        return found;
    }
    let message = format!(
        "{command} is not installed (scripts/setup.sh servers installs it: apt-get install {packages})"
    );
    assert!(
        std::env::var(skip).is_ok_and(|v| v == "1"),
        "{message}; set {skip}=1 to skip these tests"
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED ({skip}=1): {message}\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    None
}
