//! `netlab compare --rebind`: the same file downloaded over HTTPS (HTTP/1.1 + TLS), HTTP/2
//! and HTTP/3 while the client's address changes halfway — a NAT that lost its mapping, played
//! by the path's relay once half the file's size has come down.
//!
//! - Over TCP the connection is its 4-tuple: the client's next segment reaches the server
//!   from a new port and is answered with RST ([`crate::l4::relay::Mapping::forget`]). The
//!   client must connect again, pay TCP's and TLS's handshakes again, and fetch the whole
//!   file again: netlab's servers do not serve byte ranges (no `Range`, RFC 9110 §14), so
//!   what had arrived is of no use.
//! - QUIC names its connection by connection IDs: the server sees the same connection from
//!   a new address, validates the new path (PATH_CHALLENGE/PATH_RESPONSE, RFC 9000 §8.2, §9)
//!   and goes on ([`crate::l4::udp_relay::Relay::rebind`]).
//!
//! Each transport runs twice on a path of its own: once with the rebinding, once without
//! (the same relay, never triggered), and the table puts the two side by side. Connections
//! are counted on the wire: accepted TCP connections, or the client's QUIC source
//! connection IDs (one per handshake).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::bulk_body;
use super::error::{CompareError, client};
use super::exchange::tls_servers;
use super::path::{Counts, TcpPath, Trigger, UdpPath};
use super::transport::Kind;
use crate::http::handler::Handler;
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;
use crate::l4::background::Background;
use crate::tls;
use crate::trace::{self, Layer};

/// The transports downloaded, in the order of the course.
pub const KINDS: [Kind; 3] = [Kind::Https, Kind::Http2, Kind::Http3];

/// The smallest file: its first half must reach well past the handshakes.
pub const MIN_FILE: usize = 100_000;

/// Refuses a file too small to be cut in the middle of its transfer, before any server
/// starts.
pub fn check_size(size: usize) -> Result<(), CompareError> {
    if size < MIN_FILE {
        return Err(CompareError::TooSmall {
            size,
            min: MIN_FILE,
        });
    }
    super::check_size(size)
}

/// The file's name on every server.
const FILE: &str = "rebind.bin";

/// How long one download may take before its client gives up.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The three servers, serving one file from a temp dir.
pub struct Site {
    https: Background,
    http2: Background,
    http3: Background,
    /// ngtcp2's HTTP/3 server (`gtlsserver`), serving the same file: the reference row.
    ngtcp2: Option<(std::process::Child, SocketAddr)>,
    ca: PathBuf,
    dir: PathBuf,
    /// The file's bytes, to check each download against.
    body: Vec<u8>,
}

/// Whose server answers a row: netlab's own, or ngtcp2's (`gtlsserver`) for HTTP/3, the
/// same protocol from another implementation, with netlab's client and the same path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Netlab,
    Ngtcp2,
}

impl Site {
    /// Writes a file of `size` bytes and starts the servers that serve it.
    pub fn start(size: usize) -> Result<Site, CompareError> {
        let e = |what: &'static str, x: &dyn std::fmt::Display| CompareError::Start {
            what,
            error: x.to_string(),
        };
        let dir = std::env::temp_dir().join(format!("netlab-rebind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|x| e("a temp dir", &x))?;
        let body = bulk_body(size);
        let pki = tls::certs::generate().map_err(|x| e("certificates", &x))?;
        let (ca, cert, key) = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        // The PEM files go beside the served directory, not in it.
        let root = dir.join("www");
        std::fs::create_dir_all(&root).map_err(|x| e("a temp dir", &x))?;
        for (p, bytes) in [
            (&ca, pki.ca_pem.as_bytes()),
            (&cert, pki.leaf_pem.as_bytes()),
            (&key, pki.leaf_key_pem.as_bytes()),
            (&root.join(FILE), &body[..]),
        ] {
            std::fs::write(p, bytes).map_err(|x| e("a temp dir", &x))?;
        }
        let handler: Arc<dyn Handler> = Arc::new(app::monolith(Store::new(), Some(root)));
        let (https, http2, http3) = tls_servers(&handler, &cert, &key, &pki)?;
        Ok(Site {
            https,
            http2,
            http3,
            ngtcp2: None,
            ca,
            dir,
            body,
        })
    }

    /// The file's size.
    pub fn size(&self) -> usize {
        self.body.len()
    }

    /// Starts ngtcp2's HTTP/3 server on the same file and certificate, on a free port.
    pub fn start_ngtcp2(&mut self) -> Result<(), CompareError> {
        let e = |x: &dyn std::fmt::Display| CompareError::Peer {
            program: "gtlsserver",
            error: x.to_string(),
        };
        // A free port: the kernel's choice, released for the server to take.
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|x| e(&x))?
            .port();
        let path = |p: &str| self.dir.join(p).to_string_lossy().into_owned();
        let mut child = std::process::Command::new("gtlsserver")
            // -q: without it, a log line per packet slows the transfer to a crawl.
            .args(["-q", "-d", &path("www"), "127.0.0.1", &port.to_string()])
            .args([path("key.pem"), path("cert.pem")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|x| e(&format!("{x} (Debian package ngtcp2-server)")))?;
        std::thread::sleep(Duration::from_millis(300));
        if let Ok(Some(status)) = child.try_wait() {
            return Err(e(&format!("exited at once: {status}")));
        }
        self.ngtcp2 = Some((child, SocketAddr::from(([127, 0, 0, 1], port))));
        Ok(())
    }

    fn addr(&self, kind: Kind, server: Server) -> Result<SocketAddr, CompareError> {
        match (kind, server) {
            (Kind::Https, Server::Netlab) => Ok(self.https.addr()),
            (Kind::Http2, Server::Netlab) => Ok(self.http2.addr()),
            (Kind::Http3, Server::Netlab) => Ok(self.http3.addr()),
            (Kind::Http3, Server::Ngtcp2) => match &self.ngtcp2 {
                Some((_, addr)) => Ok(*addr),
                None => Err(CompareError::Peer {
                    program: "gtlsserver",
                    error: "not started".into(),
                }),
            },
            (other, _) => Err(CompareError::NotDownloaded(other)),
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        // Stopped by its own PID.
        if let Some((mut child, _)) = self.ngtcp2.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One download of the file, through a path that rebinds or not.
#[derive(Clone, Debug)]
pub struct Run {
    /// The path changed the client's address during the download.
    pub rebound: bool,
    /// Connections the client opened (counted on the path).
    pub connections: u64,
    /// What the client said when its first connection failed.
    pub failure: Option<String>,
    /// Server bytes the first connection carried to the client after the rebinding: what
    /// came on through the client's new address.
    pub after_rebind: u64,
    /// Bytes the server sent through the path, handshakes, headers and lost attempts
    /// included.
    pub bytes_down: u64,
    /// Server datagrams dropped because they went to the forgotten mapping (UDP only).
    pub stale: u64,
    /// From the first connect to the whole file.
    pub time: Duration,
}

/// One line of the table: a transport with and without the rebinding.
#[derive(Clone, Debug)]
pub struct RebindRow {
    pub kind: Kind,
    pub server: Server,
    pub with: Run,
    pub without: Run,
}

impl RebindRow {
    /// The row's name in the table.
    pub fn name(&self) -> &'static str {
        match self.server {
            Server::Netlab if self.kind == Kind::Http3 => "HTTP/3, netlab's server",
            Server::Netlab => self.kind.name(),
            Server::Ngtcp2 => "HTTP/3, ngtcp2's server",
        }
    }

    /// The connection carried the whole file through the rebinding: one connection, no
    /// failure.
    pub fn survived(&self) -> bool {
        self.with.failure.is_none() && self.with.connections == 1
    }

    /// Round trips of the handshakes the client paid again: TCP's and TLS 1.3's (2) for
    /// each new TCP connection, QUIC's (1) for each new QUIC one.
    pub fn extra_round_trips(&self) -> u64 {
        let per = if self.kind.over_tcp() { 2 } else { 1 };
        self.with.connections.saturating_sub(1) * per
    }
}

/// A path of the right kind for `kind`.
enum Path {
    Tcp(TcpPath),
    Udp(UdpPath),
}

impl Path {
    fn start(kind: Kind, target: SocketAddr, trigger: Arc<Trigger>) -> Result<Path, CompareError> {
        let e = |x: std::io::Error| CompareError::Relay {
            kind,
            error: x.to_string(),
        };
        Ok(if kind.over_tcp() {
            Path::Tcp(TcpPath::rebinding(target, trigger).map_err(e)?)
        } else {
            Path::Udp(UdpPath::rebinding(target, trigger).map_err(e)?)
        })
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Path::Tcp(p) => p.addr(),
            Path::Udp(p) => p.addr(),
        }
    }

    fn counts(&self) -> &Counts {
        match self {
            Path::Tcp(p) => &p.counts,
            Path::Udp(p) => &p.counts,
        }
    }

    fn stale(&self) -> u64 {
        match self {
            Path::Tcp(_) => 0,
            Path::Udp(p) => p.stale(),
        }
    }
}

/// Measures one transport against `server`: the download without, then with, the rebinding.
pub fn measure(kind: Kind, server: Server, site: &Site) -> Result<RebindRow, CompareError> {
    let target = site.addr(kind, server)?;
    // A first download warms the server and client up (thread pools, caches), so that
    // neither measured run pays for being first.
    run(kind, target, site, Trigger::after_down(u64::MAX))?;
    let without = run(kind, target, site, Trigger::after_down(u64::MAX))?;
    let half = (site.size() / 2) as u64;
    let with = run(kind, target, site, Trigger::after_down(half))?;
    if !with.rebound {
        return Err(CompareError::NotRebound(kind));
    }
    Ok(RebindRow {
        kind,
        server,
        with,
        without,
    })
}

/// Every row: HTTPS, HTTP/2 and HTTP/3 against netlab's servers, then HTTP/3 against
/// ngtcp2's server when it can run (else the reason, for the table's notes).
pub fn measure_all(site: &mut Site) -> Result<(Vec<RebindRow>, Option<String>), CompareError> {
    let mut rows = Vec::new();
    for kind in KINDS {
        rows.push(measure(kind, Server::Netlab, site)?);
    }
    if let Err(e) = site.start_ngtcp2() {
        return Ok((rows, Some(e.to_string())));
    }
    // Its failures name the program, not only the protocol (netlab's HTTP/3 row has that).
    let reference = measure(Kind::Http3, Server::Ngtcp2, site).map_err(|e| CompareError::Peer {
        program: "gtlsserver",
        error: e.to_string(),
    })?;
    rows.push(reference);
    Ok((rows, None))
}

/// The steps of one run: 1. a path in front of the server; 2. the download; 3. if it failed,
/// a new connection and the whole file again; 4. the file checked, the path's counts read.
fn run(
    kind: Kind,
    target: SocketAddr,
    site: &Site,
    trigger: Arc<Trigger>,
) -> Result<Run, CompareError> {
    let path = Path::start(kind, target, trigger.clone())?;
    let start = Instant::now();
    let first = download(kind, path.addr(), site);
    // Read before a second connection adds its own bytes.
    let after_rebind = path.counts().after_rebind.load(Ordering::SeqCst);
    let (body, failure) = match first {
        Ok(body) => (body, None),
        Err(e) => {
            // What the client said, without the transport's name the table already shows.
            let why = match e {
                CompareError::Client { error, .. } => error,
                other => other.to_string(),
            };
            trace::event(Layer::L4, || {
                format!(
                    "client: {why}; connecting again for the whole file (netlab's servers serve no byte ranges)"
                )
            });
            (download(kind, path.addr(), site)?, Some(why))
        }
    };
    let time = start.elapsed();
    if body != site.body {
        return Err(CompareError::Differs {
            kind,
            back: body.len(),
            sent: site.size(),
        });
    }
    // The last bytes (a close, a CONNECTION_CLOSE) pass before the counts are read.
    std::thread::sleep(Duration::from_millis(100));
    let counts = path.counts();
    Ok(Run {
        rebound: trigger.fired(),
        connections: counts.connections.load(Ordering::SeqCst),
        failure,
        after_rebind,
        bytes_down: counts.down(),
        stale: path.stale(),
        time,
    })
}

/// GETs the file from the server of `kind` through `to` on a new connection.
fn download(kind: Kind, to: SocketAddr, site: &Site) -> Result<Vec<u8>, CompareError> {
    let url =
        Url::parse(&format!("https://localhost:{}/{FILE}", to.port())).map_err(client(kind))?;
    let body = match kind {
        Kind::Https => {
            let mut c = crate::http1::client::Client::new(crate::http1::client::Options {
                cacert: Some(site.ca.clone()),
                timeout: TIMEOUT,
                ..Default::default()
            });
            let req = crate::http1::client::Outgoing::new("GET", url);
            let r = c.send(&req).map_err(client(kind))?;
            check_status(kind, r.status)?;
            r.body
        }
        Kind::Http2 => {
            let opts = crate::http2::client::Options {
                cacert: Some(site.ca.clone()),
                timeout: TIMEOUT,
                ..Default::default()
            };
            let mut all =
                crate::http2::client::fetch(vec![crate::http2::client::Outgoing::get(url)], &opts)
                    .map_err(client(kind))?;
            let r = all.pop().ok_or(CompareError::NoResponse(kind))?;
            let r = r.map_err(client(kind))?;
            check_status(kind, r.status)?;
            r.body
        }
        Kind::Http3 => {
            let opts = crate::quic::client::Options {
                cacert: Some(site.ca.clone()),
                timeout: TIMEOUT,
                ..Default::default()
            };
            let mut out = crate::quic::client::fetch(&[url], &opts).map_err(client(kind))?;
            let r = out.responses.pop().ok_or(CompareError::NoResponse(kind))?;
            check_status(kind, r.status)?;
            r.body
        }
        other => return Err(CompareError::NotDownloaded(other)),
    };
    Ok(body)
}

fn check_status(kind: Kind, status: u16) -> Result<(), CompareError> {
    match status {
        200 => Ok(()),
        status => Err(CompareError::Status { kind, status }),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// What became of the first connection: it carried the whole file; it was reset (TCP); it
/// stalled after the change (the client gave up waiting).
pub fn fate(r: &RebindRow) -> &'static str {
    if r.survived() {
        "survived"
    } else if r.kind.over_tcp() {
        "reset"
    } else {
        "stalled"
    }
}

/// What a stall of netlab's HTTP/3 server after a rebinding mid-download would mean (read in
/// quiche 0.30's recovery code; step 7a of the server loop is there so that it does not happen).
const QUICHE_STALL: &str = "HTTP/3, netlab's server: the connection followed the client to its \
new address (bytes after > 0: path validated, migrated), then stopped short. quiche 0.30 keeps loss \
recovery per path: the packets in flight to the old address when the NAT forgot it are declared \
lost only once an ACK names a later packet of that path, which is why the server sends one PING of \
the old path to the new address after a migration (step 7a of quic::Server); in this run the \
missing bytes still did not come again, and the client gave up.\n";

/// The table as text, for a terminal.
pub fn table(rows: &[RebindRow], size: usize) -> String {
    let line = |c: [&str; 9]| {
        format!(
            "{:<24} {:<10} {:>5} {:>11} {:>9} {:>11} {:>6} {:>9} {:>12}\n",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
        )
    };
    let mut out = line([
        "transport",
        "connection",
        "conns",
        "bytes after",
        "again RTs",
        "bytes down",
        "× file",
        "whole ms",
        "no rebind ms",
    ]);
    for r in rows {
        out.push_str(&line([
            r.name(),
            fate(r),
            &r.with.connections.to_string(),
            &r.with.after_rebind.to_string(),
            &r.extra_round_trips().to_string(),
            &r.with.bytes_down.to_string(),
            &format!("{:.2}", r.with.bytes_down as f64 / size.max(1) as f64),
            &ms(r.with.time),
            &ms(r.without.time),
        ]));
    }
    out.push_str(&format!(
        "\nA {size}-byte file downloaded on loopback; after {} bytes had come down, the path's \
         NAT lost the client's mapping (the client now appears from a new port). conns: \
         connections the client opened; bytes after: what its first connection still carried \
         to it after the change; again RTs: handshake round trips paid again (TCP + TLS 1.3: 2, \
         QUIC: 1); bytes down: all the server sent through the path, handshakes and the lost \
         attempt included (netlab's servers serve no byte ranges: a new connection fetches the \
         whole file again); no rebind: the same download on the same kind of path.\n",
        size / 2
    ));
    for r in rows.iter().filter(|r| r.with.failure.is_some()) {
        let why = r.with.failure.as_deref().unwrap_or_default();
        out.push_str(&format!(
            "{}: the first connection failed: {why}\n",
            r.name()
        ));
    }
    let quiche_stalled = rows
        .iter()
        .any(|r| fate(r) == "stalled" && r.server == Server::Netlab && r.with.after_rebind > 0);
    if quiche_stalled {
        out.push_str(QUICHE_STALL);
    }
    out
}

/// The table as JSON, for scripts.
pub fn json(rows: &[RebindRow], size: usize) -> serde_json::Value {
    let run = |r: &Run| {
        serde_json::json!({
            "rebound": r.rebound,
            "connections": r.connections,
            "failure": r.failure,
            "bytes_after_rebind_on_first_connection": r.after_rebind,
            "bytes_down": r.bytes_down,
            "stale_datagrams_dropped": r.stale,
            "ms": r.time.as_secs_f64() * 1000.0,
        })
    };
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "transport": r.name(),
                "survived": r.survived(),
                "connection": fate(r),
                "handshake_round_trips_again": r.extra_round_trips(),
                "with_rebind": run(&r.with),
                "without_rebind": run(&r.without),
            })
        })
        .collect();
    serde_json::json!({
        "file_bytes": size,
        "rebind_after_bytes_down": size / 2,
        "rows": rows,
    })
}
