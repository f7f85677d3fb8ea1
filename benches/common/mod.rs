//! What every benchmark shares: starting servers as child processes (stopped by PID on
//! drop), the machine line, medians of alternating runs, and the Markdown table with ratios.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A server process, stopped when dropped: SIGTERM first, so a server with worker processes
/// (nginx) can stop them itself, then SIGKILL; and no child of it may outlive it.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `netlab ARGS…` and reads the address from its `listening on …` line.
    pub fn netlab(args: &[&str]) -> Server {
        Server::netlab_env(args, &[])
    }

    /// The same, with environment variables set (`NETLAB_TRACE`).
    pub fn netlab_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_netlab"));
        cmd.env_remove("NETLAB_TRACE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Server::listening(cmd.args(args))
    }

    /// Starts any program that prints a `listening on …` line, like netlab's servers.
    pub fn program(path: &str, args: &[&str]) -> Server {
        Server::listening(Command::new(path).args(args))
    }

    fn listening(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("read the listening line");
        // Keep reading what it prints later: a closed pipe would make its next print fail
        // (aiortc's answerer once lost its echo that way, and the bench waited forever).
        thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let addr = line
            .trim()
            .rsplit("://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts a reference server and waits until `addr` accepts connections.
    pub fn spawn(program: &str, args: &[&str], addr: SocketAddr) -> Server {
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e} (run make deps)"));
        let start = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{program} did not listen"
            );
            thread::sleep(Duration::from_millis(20));
        }
        Server { child, addr }
    }
}

impl Server {
    /// socat as a TCP echo server (`PIPE` sends every byte back), the L4 reference.
    pub fn socat_echo() -> Server {
        let port = free_port();
        Server::spawn(
            "socat",
            &[
                &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
                "PIPE",
            ],
            SocketAddr::from(([127, 0, 0, 1], port)),
        )
    }
}

/// 64-byte round trips to a TCP echo server, one at a time, after `warm_up` unmeasured ones:
/// (median µs, p99 µs).
pub fn tcp_echo_rtt(addr: SocketAddr, warm_up: usize, round_trips: usize) -> (f64, f64) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let (msg, mut back) = ([b'x'; 64], [0u8; 64]);
    let mut samples = Vec::with_capacity(round_trips);
    for i in 0..warm_up + round_trips {
        let t = Instant::now();
        s.write_all(&msg).expect("write");
        s.read_exact(&mut back).expect("read");
        if i >= warm_up {
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    percentiles(samples)
}

/// (median, p99) of a set of samples.
pub fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

impl Drop for Server {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let pid = self.child.id();
        // Its children now (nginx's workers): they must be gone once it is.
        let children = children_of(pid);
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for child in children {
            let start = Instant::now();
            while is_alive(child) && start.elapsed() < Duration::from_secs(5) {
                thread::sleep(Duration::from_millis(20));
            }
            if is_alive(child) {
                let _ = kill(Pid::from_raw(child as i32), Signal::SIGKILL);
                eprintln!("bench: process {child} outlived its server {pid}; killed it");
            }
        }
    }
}

/// The PIDs whose parent is `pid` (from /proc/PID/stat, field 4).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    // The command name (field 2) is in parentheses and may hold spaces.
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Is this process still there (and not a zombie)?
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// A port that was free a moment ago (for references that cannot print theirs).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// "2 cores, Intel(R) Xeon(R) …, Linux 6.1" — the machine the numbers come from.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {kernel}")
}

/// One row: netlab's number, the reference's, and how they compare.
pub struct Row {
    pub what: String,
    pub netlab: f64,
    pub reference: f64,
    pub reference_name: String,
    pub higher_is_better: bool,
}

impl Row {
    pub fn lower_is_better(what: &str, netlab: f64, reference: f64, name: &str) -> Row {
        Row {
            what: what.into(),
            netlab,
            reference,
            reference_name: name.into(),
            higher_is_better: false,
        }
    }
    pub fn higher_is_better(what: &str, netlab: f64, reference: f64, name: &str) -> Row {
        Row {
            what: what.into(),
            netlab,
            reference,
            reference_name: name.into(),
            higher_is_better: true,
        }
    }
    /// How netlab fares: > 1 means faster than the reference, whichever way the unit goes.
    pub fn speed_ratio(&self) -> f64 {
        if self.higher_is_better {
            self.netlab / self.reference
        } else {
            self.reference / self.netlab
        }
    }
}

/// Prints the table and writes it to bench-results/NAME.md.
pub fn write_table(name: &str, title: &str, rows: &[Row]) {
    let mut out = format!(
        "### {title}\n\n| measure | netlab | reference | ratio (netlab speed ÷ reference) |\n|---|---:|---:|---:|\n"
    );
    // A measurement that failed (NaN) is shown as such, not as a number.
    let num = |v: f64, p: usize| {
        if v.is_finite() {
            format!("{v:.p$}")
        } else {
            "failed".to_string()
        }
    };
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} ({}) | {}× |\n",
            r.what,
            num(r.netlab, 1),
            num(r.reference, 1),
            r.reference_name,
            num(r.speed_ratio(), 2)
        ));
    }
    print!("{out}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{name}.md")), out);
}

/// The median of the runs that did not fail (NaN when every one did).
pub fn median(v: Vec<f64>) -> f64 {
    let mut v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Medians of `n` alternating pairs, `ours` then `theirs`: on a shared machine the load moves
/// within a minute, and a pair is measured in the same minute.
pub fn alternating(
    n: usize,
    mut ours: impl FnMut() -> f64,
    mut theirs: impl FnMut() -> f64,
) -> (f64, f64) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..n {
        a.push(ours());
        b.push(theirs());
    }
    (median(a), median(b))
}
