//! Socket state as `netstat -anp` shows it, read from Linux's /proc.
//!
//! The kernel lists every TCP and UDP socket in /proc/net/{tcp,tcp6,udp,udp6}, one line each:
//!
//! ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    0: 0100007F:FF90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 48213 …
//! ```
//!
//! Addresses are the raw in-memory 32-bit words printed in hex (so 127.0.0.1 reads
//! `0100007F` on a little-endian machine), ports are plain hex, and `st` is the kernel's
//! TCP state number. Which process owns a socket is not in that file: each open socket
//! appears in /proc/PID/fd as a link to `socket:[INODE]`, and the inode joins the two.
//!
//! State names follow RFC 9293 §3.3.2 (`SYN-RECEIVED`, `TIME-WAIT`), as smoltcp prints them.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Transport protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A TCP connection state, RFC 9293 §3.3.2, numbered as Linux numbers them
/// (include/net/tcp_states.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    Established,
    SynSent,
    SynReceived,
    FinWait1,
    FinWait2,
    TimeWait,
    Closed,
    CloseWait,
    LastAck,
    Listen,
    Closing,
}

impl TcpState {
    /// Linux's number → state. 12 (`TCP_NEW_SYN_RECV`) is Linux's light-weight entry for a
    /// handshake in progress: RFC 9293 calls that SYN-RECEIVED.
    pub fn from_linux(n: u8) -> Option<TcpState> {
        Some(match n {
            0x01 => TcpState::Established,
            0x02 => TcpState::SynSent,
            0x03 | 0x0C => TcpState::SynReceived,
            0x04 => TcpState::FinWait1,
            0x05 => TcpState::FinWait2,
            0x06 => TcpState::TimeWait,
            0x07 => TcpState::Closed,
            0x08 => TcpState::CloseWait,
            0x09 => TcpState::LastAck,
            0x0A => TcpState::Listen,
            0x0B => TcpState::Closing,
            _ => return None,
        })
    }

    /// The RFC's spelling.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Closed => "CLOSED",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A process that has the socket open (several may, after fork).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub program: String,
}

/// One line of /proc/net/{tcp,udp}{,6}.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// For TCP, the connection state. For UDP, Linux reuses the numbers: ESTABLISHED means
    /// connect(2) fixed a peer, CLOSED means unconnected.
    pub state: TcpState,
    /// Bytes queued to send (not yet acknowledged, for TCP).
    pub send_q: u32,
    /// Bytes received and not yet read; for a LISTEN socket, connections waiting for accept.
    pub recv_q: u32,
    pub uid: u32,
    pub inode: u64,
    /// Filled in by [`attach_owners`].
    pub owners: Vec<Owner>,
}

impl Socket {
    /// Is this a listening socket? For UDP, an unconnected socket is the equivalent
    /// (`netstat -l` lists them too).
    pub fn is_listening(&self) -> bool {
        match self.proto {
            Proto::Tcp => self.state == TcpState::Listen,
            Proto::Udp => self.state == TcpState::Closed,
        }
    }

    /// The state column as netstat prints it: empty for an unconnected UDP socket.
    pub fn state_label(&self) -> &'static str {
        match (self.proto, self.state) {
            (Proto::Udp, TcpState::Closed) => "",
            (_, s) => s.name(),
        }
    }

    /// `tcp`, `tcp6`, `udp`, `udp6`.
    pub fn proto_label(&self) -> &'static str {
        match (self.proto, self.local.is_ipv4()) {
            (Proto::Tcp, true) => "tcp",
            (Proto::Tcp, false) => "tcp6",
            (Proto::Udp, true) => "udp",
            (Proto::Udp, false) => "udp6",
        }
    }
}

/// A line that does not follow the /proc/net format.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer fields than the header announces.
    MissingField(&'static str),
    /// An address that is not `HEX:PORT` with 8 (IPv4) or 32 (IPv6) hex digits.
    BadAddress(String),
    /// A field that should be hexadecimal or decimal and is not.
    BadNumber(&'static str, String),
    /// A state number the kernel does not define.
    UnknownState(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MissingField(name) => write!(f, "missing field {name}"),
            ParseError::BadAddress(s) => write!(f, "bad address field '{s}'"),
            ParseError::BadNumber(name, s) => write!(f, "bad {name} field '{s}'"),
            ParseError::UnknownState(s) => write!(f, "unknown socket state '{s}'"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses `0100007F:1F90` (IPv4) or 32 hex digits + `:PORT` (IPv6). Each group of 8 hex
/// digits is one 32-bit word as it sits in memory, printed as a native integer: reading it
/// back as native and taking its bytes gives the address in network order.
pub fn parse_address(field: &str) -> Result<SocketAddr, ParseError> {
    let bad = || ParseError::BadAddress(field.to_string());
    let (ip_hex, port_hex) = field.split_once(':').ok_or_else(bad)?;
    let port = u16::from_str_radix(port_hex, 16).map_err(|_| bad())?;
    if !ip_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let word = |i: usize| -> Result<[u8; 4], ParseError> {
        let hex = ip_hex.get(i * 8..i * 8 + 8).ok_or_else(bad)?;
        Ok(u32::from_str_radix(hex, 16)
            .map_err(|_| bad())?
            .to_ne_bytes())
    };
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return Err(bad()),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Parses one data line of /proc/net/{tcp,udp}{,6} (not the header).
pub fn parse_line(proto: Proto, line: &str) -> Result<Socket, ParseError> {
    let mut fields = line.split_whitespace();
    let mut next = |name: &'static str| fields.next().ok_or(ParseError::MissingField(name));
    let _slot = next("sl")?;
    let local = parse_address(next("local_address")?)?;
    let remote = parse_address(next("rem_address")?)?;
    let st = next("st")?;
    let state = u8::from_str_radix(st, 16)
        .ok()
        .and_then(TcpState::from_linux)
        .ok_or_else(|| ParseError::UnknownState(st.to_string()))?;
    let queues = next("tx_queue:rx_queue")?;
    let (tx, rx) = queues
        .split_once(':')
        .ok_or_else(|| ParseError::BadNumber("tx_queue:rx_queue", queues.to_string()))?;
    let hex = |name: &'static str, s: &str| {
        u32::from_str_radix(s, 16).map_err(|_| ParseError::BadNumber(name, s.to_string()))
    };
    let send_q = hex("tx_queue", tx)?;
    let recv_q = hex("rx_queue", rx)?;
    let _timer = next("tr:tm->when")?;
    let _retransmits = next("retrnsmt")?;
    let uid_s = next("uid")?;
    let uid = uid_s
        .parse()
        .map_err(|_| ParseError::BadNumber("uid", uid_s.to_string()))?;
    let _timeout = next("timeout")?;
    let inode_s = next("inode")?;
    let inode = inode_s
        .parse()
        .map_err(|_| ParseError::BadNumber("inode", inode_s.to_string()))?;
    Ok(Socket {
        proto,
        local,
        remote,
        state,
        send_q,
        recv_q,
        uid,
        inode,
        owners: Vec::new(),
    })
}

/// Parses a whole /proc/net file: the header line is skipped.
pub fn parse_table(proto: Proto, text: &str) -> Result<Vec<Socket>, ParseError> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_line(proto, l))
        .collect()
}

/// Which sockets to list.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    pub tcp: bool,
    pub udp: bool,
    pub listening: bool,
    /// Keep sockets whose local or foreign port is this one.
    pub port: Option<u16>,
}

impl Filter {
    pub fn keeps(&self, s: &Socket) -> bool {
        let proto_ok = match s.proto {
            Proto::Tcp => self.tcp || !self.udp,
            Proto::Udp => self.udp || !self.tcp,
        };
        let listen_ok = !self.listening || s.is_listening();
        let port_ok = self
            .port
            .is_none_or(|p| s.local.port() == p || s.remote.port() == p);
        proto_ok && listen_ok && port_ok
    }
}

/// A /proc file that could not be read or parsed.
#[derive(Debug)]
pub struct ReadError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read {}: {} (netlab sockets needs Linux's /proc)",
            self.path, self.reason
        )
    }
}

impl std::error::Error for ReadError {}

/// Reads the sockets the filter keeps, with their owners where /proc lets us see them.
pub fn list(filter: &Filter) -> Result<Vec<Socket>, ReadError> {
    let mut all = Vec::new();
    let files = [
        ("/proc/net/tcp", Proto::Tcp),
        ("/proc/net/tcp6", Proto::Tcp),
        ("/proc/net/udp", Proto::Udp),
        ("/proc/net/udp6", Proto::Udp),
    ];
    for (path, proto) in files {
        let wanted = match proto {
            Proto::Tcp => filter.tcp || !filter.udp,
            Proto::Udp => filter.udp || !filter.tcp,
        };
        if !wanted {
            continue;
        }
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            // A kernel without IPv6 has no tcp6/udp6: that is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.ends_with('6') => continue,
            Err(e) => {
                return Err(ReadError {
                    path: path.into(),
                    reason: e.to_string(),
                });
            }
        };
        let sockets = parse_table(proto, &text).map_err(|e| ReadError {
            path: path.into(),
            reason: e.to_string(),
        })?;
        all.extend(sockets.into_iter().filter(|s| filter.keeps(s)));
    }
    attach_owners(&mut all, &socket_inodes());
    all.sort_by_key(|s| (s.proto as u8, !s.is_listening(), s.local.port(), s.remote));
    Ok(all)
}

/// Socket inode → the processes that have it open, from /proc/PID/fd/* links to
/// `socket:[INODE]`. Processes we may not look into (other users', unless root) are skipped:
/// their sockets show `-` as owner, as netstat does.
pub fn socket_inodes() -> HashMap<u64, Vec<Owner>> {
    let mut map: HashMap<u64, Vec<Owner>> = HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return map;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut program: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = socket_inode(&target.to_string_lossy()) else {
                continue;
            };
            let program = program.get_or_insert_with(|| program_name(pid)).clone();
            let owners = map.entry(inode).or_default();
            if !owners.iter().any(|o| o.pid == pid) {
                owners.push(Owner { pid, program });
            }
        }
    }
    map
}

/// `socket:[48213]` → 48213.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The program name of a process, as netstat shows it (/proc/PID/comm).
pub fn program_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Fills in `owners` from an inode map. Inode 0 (TIME-WAIT, or a socket already closed)
/// belongs to no process: the kernel alone holds it.
pub fn attach_owners(sockets: &mut [Socket], inodes: &HashMap<u64, Vec<Owner>>) {
    for s in sockets {
        if s.inode != 0 {
            if let Some(owners) = inodes.get(&s.inode) {
                s.owners = owners.clone();
            }
        }
    }
}

/// An address as netstat prints it, with IPv6 in brackets and port 0 as `*`.
pub fn show_addr(a: &SocketAddr) -> String {
    let port = if a.port() == 0 {
        "*".to_string()
    } else {
        a.port().to_string()
    };
    match a.ip() {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    }
}

/// The table `netstat -anp` prints.
pub fn render(sockets: &[Socket]) -> String {
    let mut out = format!(
        "{:<5} {:>6} {:>6} {:<28} {:<28} {:<12} {}\n",
        "Proto",
        "Recv-Q",
        "Send-Q",
        "Local Address",
        "Foreign Address",
        "State",
        "PID/Program name"
    );
    for s in sockets {
        let owner = if s.owners.is_empty() {
            "-".to_string()
        } else {
            s.owners
                .iter()
                .map(|o| format!("{}/{}", o.pid, o.program))
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push_str(&format!(
            "{:<5} {:>6} {:>6} {:<28} {:<28} {:<12} {}\n",
            s.proto_label(),
            s.recv_q,
            s.send_q,
            show_addr(&s.local),
            show_addr(&s.remote),
            s.state_label(),
            owner
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from a Linux 6.x x86_64 host (little-endian), one line per state.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:FF90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 48213 1 0000000000000000 100 0 0 10 0
   1: 0100007F:FF90 0100007F:C8E2 01 00000000:00000000 00:00000000 00000000     0        0 48214 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C8E2 0100007F:FF90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   3: 0100007F:FF90 0100007F:C8E4 08 00000000:00000006 00:00000000 00000000  1000        0 48300 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:C8E4 0100007F:FF90 05 00000000:00000000 00:00000000 00000000  1000        0 0 2 0000000000000000
   5: 0100007F:C8E6 0100007F:1F90 02 00000001:00000000 01:00000100 00000002     0        0 48400 1 0000000000000000 400 0 0 10 -1
   6: 0100007F:1F90 0100007F:C8E6 0C 00000000:00000000 00:00000000 00000000     0        0 0 0 0000000000000000
   7: 0100007F:1F91 0100007F:C8E8 04 00000010:00000000 01:00000014 00000000     0        0 48500 2 0000000000000000
   8: 0100007F:1F92 0100007F:C8EA 09 00000001:00000000 01:00000014 00000000     0        0 48501 2 0000000000000000
   9: 0100007F:1F93 0100007F:C8EC 0B 00000001:00000000 01:00000014 00000000     0        0 48502 2 0000000000000000
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2100 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000     0        0 2200 1 0000000000000000 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D432 01 00000000:00000000 00:00000000 00000000     0        0 2201 1 0000000000000000 20 4 30 10 -1
";

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:FF91 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5100 2 0000000000000000 0
  101: 0100007F:D000 0100007F:FF91 01 00000000:00000000 00:00000000 00000000  1000        0 5101 2 0000000000000000 0
";

    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  300: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 6100 2 0000000000000000 0
";

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_addresses_are_native_words() {
        assert_eq!(
            parse_address("0100007F:FF90").unwrap(),
            v4("127.0.0.1:65424")
        );
        assert_eq!(parse_address("00000000:0000").unwrap(), v4("0.0.0.0:0"));
        assert_eq!(
            parse_address("0101A8C0:0050").unwrap(),
            v4("192.168.1.1:80")
        );
    }

    #[test]
    fn ipv6_addresses_are_four_native_words() {
        assert_eq!(
            parse_address("00000000000000000000000001000000:1F90").unwrap(),
            "[::1]:8080".parse().unwrap()
        );
        assert_eq!(
            parse_address("0000000000000000FFFF00000100007F:1F90").unwrap(),
            "[::ffff:127.0.0.1]:8080".parse().unwrap()
        );
    }

    #[test]
    fn bad_addresses_are_errors_not_panics() {
        for bad in [
            "",
            ":",
            "0100007F",
            "0100007F:",
            "0100007G:0050",
            "01007F:0050",
            "0100007F:10000",
            "é100007F:0050",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn every_tcp_state_is_named_as_rfc_9293_spells_it() {
        let sockets = parse_table(Proto::Tcp, TCP).unwrap();
        let states: Vec<&str> = sockets.iter().map(|s| s.state.name()).collect();
        assert_eq!(
            states,
            [
                "LISTEN",
                "ESTABLISHED",
                "TIME-WAIT",
                "CLOSE-WAIT",
                "FIN-WAIT-2",
                "SYN-SENT",
                "SYN-RECEIVED",
                "FIN-WAIT-1",
                "LAST-ACK",
                "CLOSING"
            ]
        );
        let listen = &sockets[0];
        assert_eq!(listen.local, v4("127.0.0.1:65424"));
        assert_eq!(listen.remote, v4("0.0.0.0:0"));
        assert_eq!((listen.recv_q, listen.send_q, listen.inode), (2, 0, 48213));
        assert!(listen.is_listening());
        let close_wait = &sockets[3];
        assert_eq!((close_wait.recv_q, close_wait.uid), (6, 1000));
        // TIME-WAIT sockets have no inode: no process owns them.
        assert_eq!(sockets[2].inode, 0);
    }

    #[test]
    fn tcp6_and_mapped_addresses() {
        let s = parse_table(Proto::Tcp, TCP6).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].local, "[::]:22".parse().unwrap());
        assert_eq!(s[0].proto_label(), "tcp6");
        assert_eq!(s[1].remote, "[::1]:54321".parse().unwrap());
        assert_eq!(s[2].local.ip().to_string(), "::ffff:127.0.0.1");
    }

    #[test]
    fn udp_states_and_labels() {
        let s = parse_table(Proto::Udp, UDP).unwrap();
        assert_eq!(s[0].state_label(), "");
        assert!(s[0].is_listening());
        assert_eq!(s[1].state_label(), "ESTABLISHED");
        assert!(!s[1].is_listening());
        let s6 = parse_table(Proto::Udp, UDP6).unwrap();
        assert_eq!(s6[0].local, "[::1]:53".parse().unwrap());
        assert_eq!((s6[0].proto_label(), s6[0].uid), ("udp6", 101));
    }

    #[test]
    fn malformed_lines_are_errors() {
        let header = "sl local rem st\n";
        for line in [
            "0: 0100007F:FF90",
            "0: 0100007F:FF90 00000000:0000 FF 00000000:00000000 00:00000000 00000000 0 0 1",
            "0: 0100007F:FF90 00000000:0000 0A 0000:zz 00:00000000 00000000 0 0 1",
            "0: 0100007F:FF90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 1",
            "0: 0100007F:FF90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -1",
        ] {
            let text = format!("{header}{line}\n");
            assert!(parse_table(Proto::Tcp, &text).is_err(), "{line:?} accepted");
        }
    }

    #[test]
    fn filters_and_owners() {
        let mut all = parse_table(Proto::Tcp, TCP).unwrap();
        all.extend(parse_table(Proto::Udp, UDP).unwrap());
        let mut inodes = HashMap::new();
        inodes.insert(
            48213,
            vec![Owner {
                pid: 42,
                program: "netlab".into(),
            }],
        );
        attach_owners(&mut all, &inodes);
        assert_eq!(all[0].owners[0].pid, 42);
        assert!(all[2].owners.is_empty());

        let f = Filter {
            listening: true,
            ..Filter::default()
        };
        let kept: Vec<_> = all.iter().filter(|s| f.keeps(s)).collect();
        assert_eq!(kept.len(), 2, "one TCP LISTEN, one unconnected UDP");
        let f = Filter {
            udp: true,
            port: Some(0xFF91),
            ..Filter::default()
        };
        assert_eq!(all.iter().filter(|s| f.keeps(s)).count(), 2);
        let f = Filter {
            tcp: true,
            port: Some(8080),
            ..Filter::default()
        };
        assert_eq!(all.iter().filter(|s| f.keeps(s)).count(), 2);
    }

    #[test]
    fn render_looks_like_netstat() {
        let mut s = parse_table(Proto::Tcp, TCP).unwrap();
        s.truncate(1);
        s[0].owners.push(Owner {
            pid: 7,
            program: "netlab".into(),
        });
        let text = render(&s);
        let line = text.lines().nth(1).unwrap();
        assert!(
            line.starts_with("tcp        2      0 127.0.0.1:65424"),
            "{line}"
        );
        assert!(line.contains("0.0.0.0:*"), "{line}");
        assert!(line.ends_with("LISTEN       7/netlab"), "{line}");
        assert_eq!(show_addr(&"[::1]:80".parse().unwrap()), "[::1]:80");
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[48213]"), Some(48213));
        assert_eq!(socket_inode("pipe:[1]"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }
}
