//! Starting the servers and running the clients of one case: netlab (`h3 serve`, `h3 get`),
//! aioquic (the scripts next to this file) and ngtcp2 (Debian's `gtlsserver`, `gtlsclient`),
//! each with the flags the interop runner's endpoint scripts use for the case. Every process
//! is a child of this one, bounded in time and stopped by its PID.

use super::cases::{Case, Conns};
use super::{Peer, Settings};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A GnuTLS priority string that offers TLS_CHACHA20_POLY1305_SHA256 only.
const GNUTLS_CHACHA20: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305";

/// A process this harness started: stopped (SIGTERM, then SIGKILL) by its PID on drop.
pub struct Running {
    child: Child,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The files of one run: certificates, the served folder, downloads, logs.
pub struct Dirs {
    pub root: PathBuf,
    pub www: PathBuf,
    pub download: PathBuf,
    pub certs: PathBuf,
}

impl Dirs {
    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    fn cert(&self, long_chain: bool) -> PathBuf {
        self.certs.join(if long_chain {
            "chain9.pem"
        } else {
            "localhost.pem"
        })
    }
    fn key(&self) -> PathBuf {
        self.certs.join("localhost-key.pem")
    }
    pub fn ca(&self) -> PathBuf {
        self.certs.join("ca.pem")
    }
}

/// A running server and where it listens.
pub struct Server {
    pub addr: SocketAddr,
    /// What comes before a file's name in its URL.
    pub prefix: &'static str,
    pub log: PathBuf,
    _proc: Running,
}

fn spawn(mut cmd: Command, log: &Path) -> Result<Child, String> {
    let err = std::fs::File::create(log).map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err);
    trace_if_asked(&mut cmd);
    cmd.spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))
}

/// netlab's trace into the logs when `NETLAB_INTEROP_TRACE=LAYERS` asks (with
/// `NETLAB_INTEROP_KEEP=1` to read them): off otherwise, as it slows a transfer.
fn trace_if_asked(cmd: &mut Command) {
    let chosen = cmd
        .get_envs()
        .any(|(k, v)| k == "NETLAB_TRACE" && v.is_some());
    match std::env::var("NETLAB_INTEROP_TRACE") {
        Ok(layers) => {
            cmd.env("NETLAB_TRACE", layers);
        }
        Err(_) if !chosen => {
            cmd.env_remove("NETLAB_TRACE");
        }
        Err(_) => {}
    }
}

/// zerortt checks which requests travelled in 0-RTT from netlab's own h3 trace (a few lines
/// for a few small files).
fn trace_h3(cmd: &mut Command, case: &Case) {
    if case.conns == Conns::ZeroRtt {
        cmd.env("NETLAB_TRACE", "h3");
    }
}

/// Waits for the `listening on SCHEME://ADDR` line the server prints when ready.
fn listening(child: &mut Child, limit: Duration) -> Result<SocketAddr, String> {
    let out = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("listening on ") {
                let addr = rest.rsplit("://").next().and_then(|a| a.parse().ok());
                let _ = tx.send(addr);
                return;
            }
        }
    });
    match rx.recv_timeout(limit) {
        Ok(Some(addr)) => Ok(addr),
        _ => Err("the server printed no listening line".into()),
    }
}

fn loopback(ipv6: bool) -> &'static str {
    if ipv6 { "::1" } else { "127.0.0.1" }
}

/// Starts the server of `peer` (None: netlab) for `case`.
pub fn server(s: &Settings, peer: Option<Peer>, case: &Case, d: &Dirs) -> Result<Server, String> {
    let host = loopback(case.ipv6);
    let log = d.log("server.log");
    let (cert, key) = (d.cert(case.long_chain), d.key());
    let (child, addr, prefix) = match peer {
        None => {
            let mut cmd = Command::new(&s.netlab);
            let addr = SocketAddr::new(host.parse().unwrap(), 0).to_string();
            cmd.args(["h3", "serve", "--addr", &addr, "--root"])
                .arg(&d.www)
                .arg("--cert")
                .arg(&cert)
                .arg("--key")
                .arg(&key)
                .arg("--qlog")
                .arg(d.log("qlog"));
            if case.retry {
                cmd.arg("--retry");
            }
            trace_h3(&mut cmd, case);
            let mut child = spawn(cmd, &log)?;
            let addr = listening(&mut child, Duration::from_secs(10));
            (child, addr, "/")
        }
        Some(Peer::Aioquic) => {
            let mut cmd = Command::new(&s.python);
            cmd.arg(s.scripts.join("aioquic_server.py"))
                .arg("--cert")
                .arg(&cert)
                .arg("--key")
                .arg(&key)
                .arg("--root")
                .arg(&d.www)
                .args(["--host", host]);
            if case.retry {
                cmd.arg("--retry");
            }
            if case.chacha20 {
                cmd.arg("--chacha20");
            }
            let mut child = spawn(cmd, &log)?;
            let addr = listening(&mut child, Duration::from_secs(20));
            (child, addr, "/file/")
        }
        Some(Peer::Ngtcp2) => {
            let (mut child, addr) = gtlsserver(case, d, host, &cert, &key, &log)?;
            (child.take().unwrap(), Ok(addr), "/")
        }
    };
    let proc = Running { child };
    Ok(Server {
        addr: addr?,
        prefix,
        log,
        _proc: proc,
    })
}

/// gtlsserver takes a port, not port 0, and prints no line when ready: pick a free port,
/// start it, and wait until the port is taken.
fn gtlsserver(
    case: &Case,
    d: &Dirs,
    host: &str,
    cert: &Path,
    key: &Path,
    log: &Path,
) -> Result<(Option<Child>, SocketAddr), String> {
    let probe = UdpSocket::bind((host, 0)).map_err(|e| e.to_string())?;
    let addr = probe.local_addr().map_err(|e| e.to_string())?;
    drop(probe);
    let mut cmd = Command::new("gtlsserver");
    cmd.arg("-q").arg("-d").arg(&d.www);
    if case.retry {
        cmd.arg("-V");
    }
    if case.chacha20 {
        cmd.arg(format!("--ciphers={GNUTLS_CHACHA20}"));
    }
    cmd.arg(host)
        .arg(addr.port().to_string())
        .arg(key)
        .arg(cert);
    let child = spawn(cmd, log)?;
    let until = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(addr).is_ok() {
        if Instant::now() > until {
            return Err("gtlsserver did not bind its port".into());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok((Some(child), addr))
}

/// How one client run ended.
pub struct Ran {
    pub ok: bool,
    pub stderr: String,
}

impl Ran {
    /// The line that says why it failed, for the matrix.
    pub fn why(&self) -> String {
        let last = self
            .stderr
            .lines()
            .rev()
            .find(|l| l.contains("error") || l.contains("ERR"))
            .or_else(|| self.stderr.lines().last())
            .unwrap_or("no output");
        last.chars().take(160).collect()
    }
}

/// Runs `cmd` to its end, killed by PID after `limit`.
pub fn finish(mut cmd: Command, limit: Duration, log: &Path) -> Ran {
    let err = match std::fs::File::create(log) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string()),
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
    trace_if_asked(&mut cmd);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {:?}: {e}", cmd.get_program())),
    };
    let mut proc = Running { child };
    let started = Instant::now();
    let until = started + limit;
    let ok = loop {
        match proc.child.try_wait() {
            Ok(Some(status)) => break Ok(status.success()),
            Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(20)),
            _ => break Err(()),
        }
    };
    drop(proc);
    let took = started.elapsed();
    let mut stderr = std::fs::read_to_string(log).unwrap_or_default();
    // For a reader of a kept folder (NETLAB_INTEROP_KEEP): how long this connection took.
    stderr += &format!("\n(interop: ran {:.1} s)\n", took.as_secs_f64());
    let _ = std::fs::write(log, &stderr);
    match ok {
        Ok(ok) => Ran { ok, stderr },
        Err(()) => Ran {
            ok: false,
            stderr: format!("{stderr}\nerror: timed out after {} s", limit.as_secs()),
        },
    }
}

fn fail(why: String) -> Ran {
    Ran {
        ok: false,
        stderr: format!("error: {why}"),
    }
}

/// The connections the client makes, each with its files, and whether it resumes.
pub fn groups(case: &Case, names: &[String]) -> Vec<(Vec<String>, bool)> {
    match case.conns {
        Conns::One => vec![(names.to_vec(), false)],
        Conns::PerFile => names.iter().map(|n| (vec![n.clone()], false)).collect(),
        Conns::Resume | Conns::ZeroRtt => {
            vec![(names[..1].to_vec(), false), (names[1..].to_vec(), true)]
        }
    }
}

/// Where the client connects: the relay, named as the certificate allows.
pub fn url(relay: SocketAddr, prefix: &str, name: &str) -> String {
    match relay {
        SocketAddr::V4(a) => format!("https://localhost:{}{prefix}{name}", a.port()),
        SocketAddr::V6(a) => format!("https://[::1]:{}{prefix}{name}", a.port()),
    }
}

/// Runs the client of `peer` (None: netlab) against the relay at `to`; returns how each
/// connection's run ended, stopping at the first failure.
pub fn client(
    s: &Settings,
    peer: Option<Peer>,
    case: &Case,
    d: &Dirs,
    to: SocketAddr,
    prefix: &str,
    names: &[String],
) -> Vec<Ran> {
    let mut runs = Vec::new();
    let session = d.log("session");
    for (i, (files, resume)) in groups(case, names).into_iter().enumerate() {
        let urls: Vec<String> = files.iter().map(|n| url(to, prefix, n)).collect();
        let log = d.log(&format!("client-{i}.log"));
        // aioquic's script makes every connection of the case itself, from all the URLs.
        let urls = if peer == Some(Peer::Aioquic) {
            names.iter().map(|n| url(to, prefix, n)).collect()
        } else {
            urls
        };
        let cmd = match peer {
            None => netlab_get(s, case, d, &urls, &files, &session),
            Some(Peer::Aioquic) => aioquic_get(s, case, d, &urls),
            Some(Peer::Ngtcp2) => gtlsclient(case, d, to, &urls, &session, resume),
        };
        let ran = finish(cmd, case.limit, &log);
        let ok = ran.ok;
        runs.push(ran);
        // aioquic's script makes every connection of the case itself.
        if !ok || peer == Some(Peer::Aioquic) {
            break;
        }
    }
    runs
}

fn netlab_get(
    s: &Settings,
    case: &Case,
    d: &Dirs,
    urls: &[String],
    files: &[String],
    session: &Path,
) -> Command {
    let mut cmd = Command::new(&s.netlab);
    // One output file per connection, named after its first file: the bodies follow each
    // other in the order of the URLs.
    let out = d.download.join(format!("netlab-{}", files[0]));
    // --stats: the handshake's line says "resumed" and "0-RTT accepted|rejected".
    cmd.args(["h3", "get", "--stats", "--timeout"])
        .arg(case.limit.as_millis().to_string())
        .arg("--cacert")
        .arg(d.ca())
        .arg("-o")
        .arg(out);
    // A kept folder (NETLAB_INTEROP_KEEP) gets the client's qlog too: which frames each
    // probe carried and what each ACK acknowledged (how handshakeloss was explained).
    if std::env::var_os("NETLAB_INTEROP_KEEP").is_some() {
        cmd.arg("--qlog").arg(d.log("qlog-client"));
    }
    if matches!(case.conns, Conns::Resume | Conns::ZeroRtt) {
        cmd.arg("--session").arg(session);
    }
    trace_h3(&mut cmd, case);
    cmd.args(urls);
    cmd
}

fn aioquic_get(s: &Settings, case: &Case, d: &Dirs, urls: &[String]) -> Command {
    let mut cmd = Command::new(&s.python);
    cmd.arg(s.scripts.join("aioquic_client.py"))
        .arg("--download")
        .arg(&d.download)
        .arg("--cacert")
        .arg(d.ca())
        .arg("--timeout")
        .arg(case.limit.as_secs().to_string());
    let flags = [
        (case.conns == Conns::PerFile, "--multiconnect"),
        (case.conns == Conns::Resume, "--resume"),
        (case.conns == Conns::ZeroRtt, "--zerortt"),
        (case.chacha20, "--chacha20"),
        (case.key_update, "--key-update"),
        (case.small_windows, "--small-windows"),
    ];
    for (on, flag) in flags {
        if on {
            cmd.arg(flag);
        }
    }
    cmd.args(urls);
    cmd
}

fn gtlsclient(
    case: &Case,
    d: &Dirs,
    to: SocketAddr,
    urls: &[String],
    session: &Path,
    resume: bool,
) -> Command {
    let mut cmd = Command::new("gtlsclient");
    // -q keeps its per-packet log (which slows a transfer to a crawl) off; 0-RTT's outcome
    // ("Early data was rejected by server") is printed only without it.
    if case.conns != Conns::ZeroRtt {
        cmd.arg("-q");
    }
    // Its handshake timeout (10 s by default) is the case's bound instead: under 30 % loss or
    // corruption a handshake can take longer, and gtlsclient then exits 0 without the file.
    cmd.arg("--exit-on-all-streams-close")
        .arg(format!("--download={}", d.download.display()))
        .arg(format!("--timeout={}s", case.limit.as_secs()))
        .arg(format!("--handshake-timeout={}s", case.limit.as_secs()));
    if matches!(case.conns, Conns::Resume | Conns::ZeroRtt) {
        cmd.arg(format!("--session-file={}", session.display()));
        cmd.arg(format!("--tp-file={}.tp", session.display()));
        if case.conns == Conns::Resume && resume {
            cmd.arg("--disable-early-data");
        }
    }
    if case.chacha20 {
        cmd.arg(format!("--ciphers={GNUTLS_CHACHA20}"));
    }
    if case.key_update {
        cmd.arg("--key-update=1ms");
    }
    if case.small_windows {
        cmd.args(["--max-data=1M", "--max-stream-data-bidi-local=256K"]);
    }
    cmd.arg(to.ip().to_string())
        .arg(to.port().to_string())
        .args(urls);
    cmd
}
