//! A server process started with exactly the arguments a test gives (no
//! harness defaults), and signals to processes.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{scaled, wait_for_listening, wait_with_timeout};

/// A server process started with exactly the given arguments and
/// environment (no `--admin-token` unless given), its stdout lines kept and,
/// when asked, its stderr lines too.
pub struct Spawned {
    pub child: Child,
    pub addr: String,
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Spawned {
    pub fn start(args: &[&str], env: &[(&str, &str)], capture_stderr: bool) -> Spawned {
        let mut command = Command::new(env!("CARGO_BIN_EXE_channelhub"));
        command
            .args(args)
            .env_remove("CHANNELHUB_ADMIN_TOKEN")
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        let mut child = command.spawn().expect("start channelhub");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(pipe) = child.stderr.take() {
            let keep = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    keep.lock().unwrap().push(line);
                }
            });
        }
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (addr, _) =
            wait_for_listening(child.stdout.take().expect("stdout"), Some(stdout.clone()));
        Spawned {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then the exit status (within 30 s).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        wait_with_timeout(&mut self.child, scaled(Duration::from_secs(30)))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to a process without waiting for it.
pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid}");
}
