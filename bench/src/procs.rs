//! Child processes the harness starts (channelhub, nats-server, sockudo) and
//! the PostgreSQL databases it creates. Every child is stopped with SIGTERM
//! (then SIGKILL) when its handle drops, and dies with the harness if the
//! harness itself is killed.

use std::{
    io::{BufRead, BufReader},
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// A running child process, stopped on drop.
pub struct Managed {
    pub name: String,
    child: Child,
}

impl Managed {
    /// Starts `cmd` with stderr (and stdout unless `keep_stdout`) in `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path, keep_stdout: bool) -> Result<Managed> {
        let log_file = std::fs::File::create(log).with_context(|| format!("creating {log:?}"))?;
        cmd.stderr(log_file.try_clone()?);
        cmd.stdout(if keep_stdout {
            Stdio::piped()
        } else {
            Stdio::from(log_file)
        });
        cmd.stdin(Stdio::null());
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to
        // SIGTERM the child when the harness exits.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Managed {
            name: name.to_string(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> Result<String> {
        let stdout = self.child.stdout.take().context("stdout not captured")?;
        let (tx, rx) = mpsc::channel();
        let prefix = prefix.to_string();
        std::thread::spawn(move || {
            let mut found = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !found && let Some(rest) = line.strip_prefix(&prefix) {
                    found = true;
                    let _ = tx.send(rest.trim().to_string());
                }
                // Keep draining so the child never blocks on a full pipe.
            }
        });
        rx.recv_timeout(timeout)
            .with_context(|| format!("{} printed no ready line in {timeout:?}", self.name))
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on {addr} after {timeout:?}")
}

/// Which database a channelhub server under test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh database for one server run: a SQLite file or a PostgreSQL
/// database, removed on drop.
pub struct Database {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres(String),
}

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl Database {
    pub fn create(db: Db, dir: &Path, tag: &str) -> Result<Database> {
        match db {
            Db::Sqlite => {
                let path = dir.join(format!("{tag}.db"));
                let _ = std::fs::remove_file(&path);
                Ok(Database {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::File(path),
                })
            }
            Db::Postgres => {
                let name = format!("chbench_{}_{}", tag.replace('-', "_"), std::process::id());
                psql(&format!("DROP DATABASE IF EXISTS {name}"))?;
                psql(&format!("CREATE DATABASE {name}"))?;
                Ok(Database {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    cleanup: Cleanup::Postgres(name),
                })
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres(name) => {
                let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

fn psql(sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .args([PG_ADMIN, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
