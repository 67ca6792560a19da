//! `axtary mcp wrap`: runs a third-party MCP server as a child process and sits on its stdio.
//!
//! The client's stdin goes to the child's stdin and the child's stdout to the client's stdout,
//! through the [`Relay`]. The child's stderr is inherited, or relayed line by line with
//! injected secrets redacted when there are any. When the client closes its stdin, the
//! child's stdin is closed and the child gets [`GRACE`] to exit before it is killed; when the
//! child exits, the wrapper reports it and ends with the child's exit code.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::relay::{Gate, PumpEnd, Relay, RelayOptions};

/// How long a child may take to exit once its stdin is closed.
pub const GRACE: Duration = Duration::from_secs(5);

/// The server to run.
pub struct ChildSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Extra environment variables (secrets resolved from the broker, literal values).
    pub env: Vec<(OsString, Zeroizing<String>)>,
}

/// How the wrapped server ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The exit code to end with: the child's, or 128 + signal.
    pub code: u8,
    /// One line for stderr; `None` for a clean shutdown (the client closed, the server exited
    /// with 0).
    pub report: Option<String>,
}

enum Event {
    ClientClosed,
    ServerClosed,
}

/// Runs the child under the relay on this process's stdin and stdout. Returns once the child
/// has exited (and every outcome is recorded); an error only if the child cannot start.
pub fn run<G: Gate>(spec: ChildSpec, gate: Arc<G>, opts: RelayOptions) -> io::Result<Ended> {
    let scrub_stderr = !opts.scrubber.is_empty();
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if scrub_stderr {
            Stdio::piped()
        } else {
            Stdio::inherit()
        });
    for (k, v) in &spec.env {
        command.env(k, v.as_str());
    }
    let mut child = command.spawn()?;
    let relay = Relay::new(gate, opts, Box::new(io::stdout()), Box::new(io::stderr()));
    let (tx, rx) = mpsc::channel();

    let (Some(child_in), Some(child_out)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(io::Error::other("the child's stdio was not piped"));
    };
    if let Some(err) = child.stderr.take() {
        let relay = relay.clone();
        spawn("mcp-stderr", move || relay.pump_stderr(BufReader::new(err)));
    }
    {
        let relay = relay.clone();
        let tx = tx.clone();
        spawn("mcp-client", move || {
            // `child_in` moves into the pump and is closed when it returns: the child sees EOF.
            relay.pump_client(io::stdin().lock(), child_in);
            let _ = tx.send(Event::ClientClosed);
        });
    }
    let server_done = {
        let relay = relay.clone();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        spawn("mcp-server", move || {
            if relay.pump_server(BufReader::with_capacity(64 * 1024, child_out)) == PumpEnd::Broken
            {
                relay.log("the client stopped reading");
            }
            let _ = tx.send(Event::ServerClosed);
            let _ = done_tx.send(());
        });
        done_rx
    };

    let (status, client_first) = supervise(&mut child, &rx, &relay)?;
    // Let the server pump forward what the child wrote before it exited.
    let _ = server_done.recv_timeout(Duration::from_secs(1));
    let why = if client_first {
        "the server exited after the client closed the connection, without answering"
    } else {
        "the server exited without answering"
    };
    relay.finish(why);
    Ok(ended(status, client_first))
}

/// Waits for the child: kills it if it outlives [`GRACE`] after its stdin or stdout closed.
/// Returns its status and whether the client closed first.
fn supervise<G: Gate>(
    child: &mut Child,
    events: &mpsc::Receiver<Event>,
    relay: &Relay<G>,
) -> io::Result<(ExitStatus, bool)> {
    let mut client_first = false;
    let mut deadline: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, client_first));
        }
        let wait = if deadline.is_some() {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(200)
        };
        match events.recv_timeout(wait) {
            Ok(Event::ClientClosed) => {
                client_first = true;
                deadline.get_or_insert_with(|| Instant::now() + GRACE);
            }
            Ok(Event::ServerClosed) => {
                deadline.get_or_insert_with(|| Instant::now() + GRACE);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            relay.log(&format!(
                "the server is still running {} s after its input or output closed; killing it",
                GRACE.as_secs()
            ));
            let _ = child.kill();
            return Ok((child.wait()?, client_first));
        }
    }
}

fn ended(status: ExitStatus, client_first: bool) -> Ended {
    let after = if client_first {
        " after the client closed the connection"
    } else {
        ""
    };
    match (status.code(), status.signal()) {
        (Some(code), _) => Ended {
            code: u8::try_from(code & 0xff).unwrap_or(1),
            report: (code != 0 || !client_first)
                .then(|| format!("the server exited with code {code}{after}")),
        },
        (None, Some(signal)) => Ended {
            code: u8::try_from((128 + signal) & 0xff).unwrap_or(1),
            report: Some(format!("the server was killed by signal {signal}{after}")),
        },
        (None, None) => Ended {
            code: 1,
            report: Some(format!("the server ended{after} (no exit code)")),
        },
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // Without its pump the wrapper cannot work; the supervisor notices the child's pipes
    // closing and ends. A thread that cannot start is reported by the caller's log.
    let _ = std::thread::Builder::new().name(name.to_owned()).spawn(f);
}

impl<G: Gate> Relay<G> {
    /// Relays the child's stderr line by line with injected secrets redacted.
    fn pump_stderr(&self, mut from: impl BufRead) {
        let mut buf = Vec::new();
        let mut out = io::stderr();
        loop {
            buf.clear();
            match from.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = self.scrub(&buf);
                    let _ = out.write_all(&line).and_then(|()| out.flush());
                }
            }
        }
    }
}
