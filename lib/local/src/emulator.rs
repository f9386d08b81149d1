//! The AWS emulator: moto's standalone server on a free loopback port.
//!
//! [`Emulator::start`] picks a free port (bind `127.0.0.1:0`, release it, retry if moto then
//! finds it taken), starts `moto_server -H 127.0.0.1 -p PORT`, and waits up to 30 s until
//! `GET /moto-api/` answers 200. Its output goes to `<root>/.local/emulator/moto-PORT.log`
//! (logs older than a day are swept on start; the log is removed when the emulator is dropped).
//!
//! ## One request at a time
//! DynamoDB applies every conditional write and every `TransactWriteItems` atomically: two
//! transactions whose conditions read the same item never both succeed. moto's threaded
//! server checks a transaction's conditions and applies its writes without a lock, so two
//! requests in flight at once can both pass (seen here: two engineers taking the same work
//! order in the race test). The emulator therefore runs moto's own `moto.server.main` with its
//! WSGI application behind one lock ([`SERIAL_MOTO`]): each request runs whole before the
//! next starts, which restores the atomicity the real service guarantees. Throughput is
//! unchanged in practice (moto is bound by Python's interpreter lock either way).
//!
//! ## Lifetime: moto never outlives its owner
//! moto is not started directly but under a tiny `sh` watchdog whose standard input is a pipe
//! from this process:
//!
//! ```sh
//! exec 3<&0                               # keep the pipe from the owner
//! moto_server … </dev/null & pid=$!
//! ( read _ <&3; kill "$pid" ) &           # EOF on the pipe ⇒ stop moto
//! wait "$pid"                             # sh exits when moto does
//! ```
//!
//! The only writer of that pipe is the owning process (the pipe is close-on-exec, so no other
//! child inherits it). When the owner drops the [`Emulator`] — or exits, panics, aborts or is
//! killed, with no destructor running — the pipe closes, `read` returns and moto is stopped.
//! That is what lets a test binary keep one emulator in a `static` (never dropped) without
//! leaking servers. The watchdog runs in its own process group, so a Ctrl-C meant for the
//! owner does not stop moto before the owner has cleaned up; [`Drop`] closes the pipe, waits
//! for the watchdog and, if it lingers, kills the whole group.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

use crate::tools::Tools;

/// How long moto may take to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many fresh ports to try when moto exits right away (e.g. the port was taken).
const PORT_ATTEMPTS: usize = 5;
/// Logs of emulators older than this are removed when a new one starts.
const LOG_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// moto's server with its WSGI application serialised by one lock (see the module docs).
/// Runs as `python -c SERIAL_MOTO -H … -p …`; the arguments are moto_server's own.
pub const SERIAL_MOTO: &str = r#"
import threading
import moto.server as server

run_simple = server.run_simple
lock = threading.Lock()

def serial(host, port, app, **options):
    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))
    return run_simple(host, port, one_at_a_time, **options)

server.run_simple = serial
server.main()
"#;

/// The watchdog script; `$0` is the program, `$@` its arguments.
const WATCHDOG: &str = r#"exec 3<&0
"$0" "$@" </dev/null &
pid=$!
( read _ <&3; kill "$pid" 2>/dev/null ) &
wait "$pid"
"#;

/// A running moto server, stopped when dropped (or when this process ends).
#[derive(Debug)]
pub struct Emulator {
    endpoint: String,
    addr: SocketAddr,
    child: Child,
    /// The watchdog's stdin; dropping it stops moto.
    lifeline: Option<ChildStdin>,
    log: PathBuf,
}

impl Emulator {
    /// Starts moto's server on a free port of 127.0.0.1 and waits until it answers.
    /// Blocks the calling thread (typically one to three seconds).
    pub fn start(tools: &Tools) -> anyhow::Result<Emulator> {
        let root = tools
            .venv
            .parent()
            .context("the tools venv has no parent directory")?;
        let log_dir = root.join(".local").join("emulator");
        fs::create_dir_all(&log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        sweep_old_logs(&log_dir);

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let mut emulator = spawn(tools, port, &log_dir)?;
            match emulator.wait_ready() {
                Ok(()) => {
                    tracing::info!(endpoint = %emulator.endpoint, log = %emulator.log.display(), "AWS emulator started");
                    return Ok(emulator);
                }
                Err(e) if emulator.exited() => {
                    // Most likely the port was taken between probing and binding: try another.
                    tracing::debug!(port, error = %format!("{e:#}"), "moto exited at start; retrying");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| anyhow::anyhow!("no attempt was made"))
            .context(format!(
                "moto_server did not start after {PORT_ATTEMPTS} attempts"
            )))
    }

    /// The endpoint URL for the AWS SDK, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The file moto's output goes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Forgets every resource in the emulator (`POST /moto-api/reset`). Blocking, like
    /// [`Emulator::start`]: from async code, call it in `tokio::task::spawn_blocking`.
    pub fn reset(&self) -> anyhow::Result<()> {
        let status = http_status(
            self.addr,
            "POST",
            "/moto-api/reset",
            Duration::from_secs(10),
        )
        .with_context(|| format!("cannot reset the emulator at {}", self.endpoint))?;
        if status != 200 {
            bail!(
                "the emulator at {} answered {status} to a reset",
                self.endpoint
            );
        }
        Ok(())
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll moto_server")? {
                bail!(
                    "moto_server exited at start ({status}); its log {} ends with:\n{}",
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            match http_status(self.addr, "GET", "/moto-api/", Duration::from_secs(2)) {
                Ok(200) => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(status) => bail!(
                    "moto_server at {} answers {status} to GET /moto-api/; log {}:\n{}",
                    self.endpoint,
                    self.log.display(),
                    log_tail(&self.log)
                ),
                Err(e) => {
                    return Err(e).context(format!(
                        "moto_server at {} did not answer within {READY_TIMEOUT:?}; log {}:\n{}",
                        self.endpoint,
                        self.log.display(),
                        log_tail(&self.log)
                    ));
                }
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop moto and exit.
        drop(self.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => {
                    let _ = fs::remove_file(&self.log);
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(25)),
                Err(_) => break,
            }
        }
        // The watchdog leads its own process group: kill all of it, then reap.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(tools: &Tools, port: u16, log_dir: &Path) -> anyhow::Result<Emulator> {
    let log = log_dir.join(format!("moto-{port}.log"));
    let out = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone().context("cannot share the log file")?;
    let port_arg = port.to_string();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg(&tools.python)
        .args(["-c", SERIAL_MOTO, "-H", "127.0.0.1", "-p", &port_arg])
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| {
            format!(
                "cannot start moto with {} (under sh)",
                tools.python.display()
            )
        })?;
    let lifeline = child.stdin.take();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    Ok(Emulator {
        endpoint: format!("http://{addr}"),
        addr,
        child,
        lifeline,
        log,
    })
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot bind 127.0.0.1:0 to find a free port")?;
    Ok(listener
        .local_addr()
        .context("cannot read the probe's address")?
        .port())
}

/// A minimal HTTP/1.1 request without a body; returns the status code.
fn http_status(
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .context("cannot set a read timeout")?;
    stream
        .set_write_timeout(Some(timeout))
        .context("cannot set a write timeout")?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .context("cannot send the request")?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .context("cannot read the response")?;
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    let status_line = head.lines().next().unwrap_or_default();
    let mut fields = status_line.split_whitespace();
    match (fields.next(), fields.next().map(str::parse::<u16>)) {
        (Some(v), Some(Ok(code))) if v.starts_with("HTTP/") => Ok(code),
        _ => bail!("not an HTTP response from {addr}: {status_line:?}"),
    }
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn sweep_old_logs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > LOG_MAX_AGE);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_resets_and_stops_when_dropped() {
        let root = crate::tools::project_root();
        let tools = crate::tools::ensure(&root).expect("tools");
        let emulator = Emulator::start(&tools).expect("emulator starts");
        assert!(emulator.endpoint().starts_with("http://127.0.0.1:"));
        emulator.reset().expect("reset");
        let addr = emulator.addr;
        let log = emulator.log_path().to_path_buf();
        drop(emulator);
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "moto still listens"
        );
        assert!(!log.exists());
    }
}
