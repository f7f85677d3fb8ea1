//! Who holds a port, and how to make them let go.
//!
//! "Address already in use" (EADDRINUSE) means bind(2) found another socket on the same
//! local address and port. This module finds it in /proc (see [`super::sockets`]), names the
//! process that owns it, and can end that process: SIGTERM first, so it can clean up, then
//! SIGKILL if it has not exited within a grace period (signal(7)).
//!
//! A socket in TIME-WAIT has no process at all: the kernel keeps it after an active close
//! (RFC 9293 §3.6.1) for 2·MSL, which RFC 9293 makes 4 minutes (MSL = 2 min, §3.4.2) and
//! Linux a fixed 60 s. It blocks a new bind only for sockets
//! without SO_REUSEADDR; std sets that option on every listener.

use super::sockets::{self, Filter, Owner, Proto, ReadError, Socket, TcpState};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fmt;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

/// What holds a port.
#[derive(Debug)]
pub struct Holders {
    pub port: u16,
    pub proto: Proto,
    /// Sockets bound to the port (listeners first).
    pub sockets: Vec<Socket>,
}

impl Holders {
    /// Processes that own a socket on the port, each once.
    pub fn owners(&self) -> Vec<Owner> {
        let mut out: Vec<Owner> = Vec::new();
        for s in self.holding() {
            for o in &s.owners {
                if !out.iter().any(|x| x.pid == o.pid) {
                    out.push(o.clone());
                }
            }
        }
        out
    }

    /// The sockets that make a new bind fail: for TCP the listeners if there are any,
    /// otherwise every socket on the port; for UDP every socket bound there.
    pub fn holding(&self) -> Vec<&Socket> {
        let listeners: Vec<&Socket> = self.sockets.iter().filter(|s| s.is_listening()).collect();
        if !listeners.is_empty() {
            listeners
        } else {
            self.sockets.iter().collect()
        }
    }
}

/// Finds the sockets whose *local* port is `port`.
pub fn find(port: u16, proto: Proto) -> Result<Holders, ReadError> {
    let filter = Filter {
        tcp: proto == Proto::Tcp,
        udp: proto == Proto::Udp,
        listening: false,
        port: Some(port),
    };
    let sockets = sockets::list(&filter)?
        .into_iter()
        .filter(|s| s.local.port() == port)
        .collect();
    Ok(Holders {
        port,
        proto,
        sockets,
    })
}

/// One line per holding socket, for people.
pub fn describe(h: &Holders) -> String {
    let proto = match h.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    if h.sockets.is_empty() {
        return format!(
            "port {}/{proto}: no socket is bound to it; bind will succeed\n",
            h.port
        );
    }
    let mut out = String::new();
    for s in h.holding() {
        let state = if s.state_label().is_empty() {
            "bound (UDP)".to_string()
        } else {
            s.state_label().to_string()
        };
        let who = if s.owners.is_empty() {
            if s.state == TcpState::TimeWait || s.inode == 0 {
                "no process: the kernel holds it (TIME-WAIT: 2·MSL in RFC 9293, a fixed 60 s on Linux)".to_string()
            } else {
                "a process netlab may not inspect (run as its owner or as root to see it)"
                    .to_string()
            }
        } else {
            s.owners
                .iter()
                .map(|o| format!("PID {} ({})", o.pid, o.program))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "port {}/{proto}: {} {} → {} held by {who}\n",
            h.port,
            state,
            sockets::show_addr(&s.local),
            sockets::show_addr(&s.remote)
        ));
    }
    out
}

/// Why a process could not be ended.
#[derive(Debug, PartialEq, Eq)]
pub enum KillError {
    /// PID 1 is init: ending it ends the machine (or the container).
    Init,
    /// netlab itself holds the port.
    OurOwnProcess(u32),
    /// EPERM: the process belongs to another user.
    NoPermission { pid: u32, program: String },
    /// It survived SIGKILL too (uninterruptible sleep, or a zombie's parent not reaping).
    Survived { pid: u32 },
    /// Any other errno from kill(2).
    Signal { pid: u32, errno: Errno },
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillError::Init => write!(
                f,
                "refusing to signal PID 1 (init): that would stop the whole system"
            ),
            KillError::OurOwnProcess(pid) => {
                write!(
                    f,
                    "refusing to signal PID {pid}: that is this netlab process"
                )
            }
            KillError::NoPermission { pid, program } => write!(
                f,
                "no permission to signal PID {pid} ({program}): it belongs to another user (run as that user or as root)"
            ),
            KillError::Survived { pid } => {
                write!(
                    f,
                    "PID {pid} is still there after SIGKILL (stuck in the kernel?)"
                )
            }
            KillError::Signal { pid, errno } => write!(f, "kill({pid}) failed: {errno}"),
        }
    }
}

impl std::error::Error for KillError {}

/// What happened to one process.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited after SIGTERM, within the grace period.
    Terminated { after: Duration },
    /// It ignored SIGTERM and was killed.
    Killed { after: Duration },
    /// It had already gone before we signalled it.
    AlreadyGone,
}

/// Is the process still running? A zombie (exited, not yet reaped by its parent) counts as
/// gone: it no longer holds sockets.
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name (which may contain spaces).
        Ok(stat) => match stat.rsplit_once(')') {
            Some((_, rest)) => !rest.trim_start().starts_with(['Z', 'X']),
            None => true,
        },
        Err(_) => false,
    }
}

/// Sends SIGTERM, waits up to `grace` for the process to exit, then SIGKILL.
pub fn terminate(owner: &Owner, grace: Duration) -> Result<Ended, KillError> {
    if owner.pid == 1 {
        return Err(KillError::Init);
    }
    if owner.pid == std::process::id() {
        return Err(KillError::OurOwnProcess(owner.pid));
    }
    let pid = Pid::from_raw(owner.pid as i32);
    let start = Instant::now();
    match kill(pid, Signal::SIGTERM) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(Ended::AlreadyGone),
        Err(Errno::EPERM) => {
            return Err(KillError::NoPermission {
                pid: owner.pid,
                program: owner.program.clone(),
            });
        }
        Err(errno) => {
            return Err(KillError::Signal {
                pid: owner.pid,
                errno,
            });
        }
    }
    if wait_gone(owner.pid, grace) {
        return Ok(Ended::Terminated {
            after: start.elapsed(),
        });
    }
    match kill(pid, Signal::SIGKILL) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => {
            return Err(KillError::Signal {
                pid: owner.pid,
                errno,
            });
        }
    }
    if wait_gone(owner.pid, Duration::from_secs(2)) {
        Ok(Ended::Killed {
            after: start.elapsed(),
        })
    } else {
        Err(KillError::Survived { pid: owner.pid })
    }
}

fn wait_gone(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        if !alive(pid) {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_init_and_itself() {
        let init = Owner {
            pid: 1,
            program: "init".into(),
        };
        assert_eq!(terminate(&init, Duration::ZERO), Err(KillError::Init));
        let me = Owner {
            pid: std::process::id(),
            program: "netlab".into(),
        };
        assert!(matches!(
            terminate(&me, Duration::ZERO),
            Err(KillError::OurOwnProcess(_))
        ));
    }

    #[test]
    fn this_process_is_alive_and_a_missing_one_is_not() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX - 1));
    }

    #[test]
    fn finds_our_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = find(port, Proto::Tcp).unwrap();
        assert_eq!(h.holding().len(), 1);
        assert_eq!(h.holding()[0].state, TcpState::Listen);
        assert!(h.owners().iter().any(|o| o.pid == std::process::id()));
        assert!(
            describe(&h).contains("LISTEN 127.0.0.1:"),
            "{}",
            describe(&h)
        );
        drop(l);
        let h = find(port, Proto::Tcp).unwrap();
        assert!(
            describe(&h).contains("no socket is bound"),
            "{}",
            describe(&h)
        );
    }
}
