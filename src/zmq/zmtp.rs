//! ZMTP 3.x on the wire: RFC 37/ZMTP (ZMTP 3.1; RFC 23/ZMTP is 3.0), decoded by hand.
//!
//! Wire code only: bytes in, structs out; no I/O and no state. Each function looks at the
//! start of a buffer and answers `Complete` with what it found and how many bytes that
//! took, or `Partial` when the buffer ends too early (not an error: more bytes will come),
//! or an error naming the rule the bytes break. The state (greeting first, then frames; who
//! is a SUB) lives in `zmtp_tap.rs`.
//!
//! What ZMTP adds to TCP's byte stream, in the order a connection shows it:
//! 1. a 64-octet greeting: signature, version, security mechanism, as-server;
//! 2. the security handshake: for NULL, one READY command each way carrying metadata
//!    (Socket-Type, Identity);
//! 3. frames: a flags octet (MORE, LONG, COMMAND), a size (1 or 8 octets), a body. A message
//!    is one or more frames, all but the last with MORE.

use std::fmt;

/// The greeting is always 64 octets (RFC 37 "Framing").
pub const GREETING_LEN: usize = 64;

/// A decode step that needs more bytes is `Partial`, not an error.
#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// Found `T`, which used the first `usize` bytes of the input.
    Complete(T, usize),
    /// The input ends before `T` does.
    Partial,
}

/// One variant per rule of RFC 37 that the bytes break.
#[derive(Debug, PartialEq, Eq)]
pub enum ZmtpError {
    /// signature = %xFF padding %x7F: the first octet is not %xFF.
    SignatureStart(u8),
    /// signature = %xFF padding %x7F: the tenth octet is not %x7F.
    SignatureEnd(u8),
    /// version-major = %x03: an older peer (ZMTP 1.0 or 2.0), which this decoder does not read.
    OldVersion { major: u8 },
    /// mechanism-char = "A"-"Z" | DIGIT | "-" | "_" | "." | "+" | %x0.
    MechanismChar(u8),
    /// as-server = %x00 | %x01.
    AsServer(u8),
    /// filler = 31%x00.
    Filler,
    /// "Bits 7-3 are reserved for future use and MUST be zero."
    ReservedFlags(u8),
    /// "This bit [MORE] SHALL be zero on command frames."
    CommandMore,
    /// long-size: "Body is 0 to 2^63-1 octets".
    LongSize(u64),
    /// command-name = short-size 1*255command-name-char: an empty body or empty name.
    CommandNameEmpty,
    /// The command name's size runs past the end of the body.
    CommandNameTruncated,
    /// command-name-char = ALPHA.
    CommandNameChar(u8),
    /// name = short-size 1*255name-char: "Zero-sized names are not valid."
    PropertyNameEmpty,
    /// A property name or its value runs past the end of the READY body.
    PropertyTruncated,
    /// name-char = ALPHA | DIGIT | "-" | "_" | "." | "+".
    PropertyNameChar(u8),
    /// value size: "0 to 2,147,483,647 (2^31-1) octets".
    PropertyValueSize(u32),
    /// error-reason = short-size 0*255VCHAR, cut short.
    ErrorReasonTruncated,
    /// ping = … ping-ttl ping-context: fewer than the 2 octets of ping-ttl.
    PingTtl,
    /// ping-context = 0*16OCTET.
    PingContext(usize),
}

impl fmt::Display for ZmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ZmtpError::*;
        match self {
            SignatureStart(b) => write!(
                f,
                "not ZMTP: a greeting starts with signature octet %xFF, got {b:#04x} (is this the right port and --proto?)"
            ),
            SignatureEnd(b) => write!(
                f,
                "not ZMTP 3: the signature's tenth octet must be %x7F, got {b:#04x}"
            ),
            OldVersion { major } => write!(
                f,
                "ZMTP version-major {major}: a pre-3.0 peer; this decoder reads ZMTP 3.x only"
            ),
            MechanismChar(b) => write!(
                f,
                "bad mechanism-char {b:#04x}: a mechanism is A-Z, digits, - _ . + and null padding"
            ),
            AsServer(b) => write!(f, "as-server must be %x00 or %x01, got {b:#04x}"),
            Filler => write!(f, "the greeting's filler must be 31 zero octets"),
            ReservedFlags(b) => write!(f, "flags {b:#04x}: bits 7-3 are reserved and MUST be zero"),
            CommandMore => write!(f, "the MORE bit SHALL be zero on command frames"),
            LongSize(n) => write!(f, "long-size {n} exceeds 2^63-1"),
            CommandNameEmpty => write!(
                f,
                "a command body starts with a name of 1 to 255 letters; it is empty"
            ),
            CommandNameTruncated => {
                write!(f, "the command name's size runs past the end of the frame")
            }
            CommandNameChar(b) => write!(f, "command-name-char must be ALPHA, got {b:#04x}"),
            PropertyNameEmpty => write!(
                f,
                "a metadata property name is 1 to 255 characters; zero-sized names are not valid"
            ),
            PropertyTruncated => write!(f, "a metadata property runs past the end of the command"),
            PropertyNameChar(b) => write!(
                f,
                "name-char must be ALPHA, DIGIT, - _ . or +, got {b:#04x}"
            ),
            PropertyValueSize(n) => write!(f, "metadata value size {n} exceeds 2^31-1"),
            ErrorReasonTruncated => write!(f, "the ERROR reason runs past the end of the command"),
            PingTtl => write!(f, "PING needs a 2-octet ping-ttl"),
            PingContext(n) => write!(f, "ping-context is 0 to 16 octets, got {n}"),
        }
    }
}

impl std::error::Error for ZmtpError {}

/// The greeting (RFC 37 "Formal Grammar": greeting = signature version mechanism as-server
/// filler).
#[derive(Debug, PartialEq, Eq)]
pub struct Greeting {
    pub major: u8,
    pub minor: u8,
    /// "NULL", "PLAIN", "CURVE", … without the null padding.
    pub mechanism: String,
    pub as_server: bool,
}

/// Decodes the greeting, checking each octet as soon as it is there, so that a stream that
/// is not ZMTP is refused after one byte rather than after 64.
pub fn parse_greeting(buf: &[u8]) -> Result<Status<Greeting>, ZmtpError> {
    // signature = %xFF padding %x7F; padding = 8OCTET, and "a peer … MUST NOT validate"
    // it (RFC 37 "Version Negotiation").
    if let Some(&b) = buf.first().filter(|&&b| b != 0xFF) {
        return Err(ZmtpError::SignatureStart(b));
    }
    if let Some(&b) = buf.get(9).filter(|&&b| b != 0x7F) {
        return Err(ZmtpError::SignatureEnd(b));
    }
    // version-major = %x03. "A peer MUST accept higher protocol versions as valid", so 4+
    // passes; older ones need the downgrade rules we do not implement.
    if let Some(&major) = buf.get(10).filter(|&&major| major < 3) {
        return Err(ZmtpError::OldVersion { major });
    }
    // mechanism = 20mechanism-char, null padded.
    for &b in buf.iter().skip(12).take(20) {
        if !(b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.+\0".contains(&b)) {
            return Err(ZmtpError::MechanismChar(b));
        }
    }
    // as-server = %x00 | %x01
    if let Some(&b) = buf.get(32).filter(|&&b| b > 1) {
        return Err(ZmtpError::AsServer(b));
    }
    // filler = 31%x00
    if buf.iter().skip(33).take(31).any(|&b| b != 0) {
        return Err(ZmtpError::Filler);
    }
    if buf.len() < GREETING_LEN {
        return Ok(Status::Partial);
    }
    let mechanism: String = buf[12..32]
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    Ok(Status::Complete(
        Greeting {
            major: buf[10],
            minor: buf[11],
            mechanism,
            as_server: buf[32] == 1,
        },
        GREETING_LEN,
    ))
}

/// Frame flags (RFC 37 "Framing"), bit 0 first.
pub const MORE: u8 = 0x01;
pub const LONG: u8 = 0x02;
pub const COMMAND: u8 = 0x04;

/// The flags octet and size that start every frame after the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub flags: u8,
    pub size: u64,
}

impl FrameHeader {
    pub fn more(&self) -> bool {
        self.flags & MORE != 0
    }
    pub fn long(&self) -> bool {
        self.flags & LONG != 0
    }
    pub fn command(&self) -> bool {
        self.flags & COMMAND != 0
    }

    /// `0x01(MORE)`, `0x06(LONG|COMMAND)`, `0x00`.
    pub fn flag_names(&self) -> String {
        let names: Vec<&str> = [(MORE, "MORE"), (LONG, "LONG"), (COMMAND, "COMMAND")]
            .iter()
            .filter(|(bit, _)| self.flags & bit != 0)
            .map(|&(_, name)| name)
            .collect();
        if names.is_empty() {
            format!("{:#04x}", self.flags)
        } else {
            format!("{:#04x}({})", self.flags, names.join("|"))
        }
    }
}

/// Decodes a frame header: flags, then short-size (1 octet) or long-size (8 octets, network
/// byte order). The body (`size` octets) follows the returned length.
pub fn parse_frame_header(buf: &[u8]) -> Result<Status<FrameHeader>, ZmtpError> {
    let Some(&flags) = buf.first() else {
        return Ok(Status::Partial);
    };
    // "Bits 7-3 are reserved for future use and MUST be zero."
    if flags & 0xF8 != 0 {
        return Err(ZmtpError::ReservedFlags(flags));
    }
    // "This bit [MORE] SHALL be zero on command frames": command-size = %x04 … | %x06 ….
    if flags & COMMAND != 0 && flags & MORE != 0 {
        return Err(ZmtpError::CommandMore);
    }
    if flags & LONG == 0 {
        // short-size = OCTET: a body of 0 to 255 octets.
        return Ok(match buf.get(1) {
            Some(&size) => Status::Complete(
                FrameHeader {
                    flags,
                    size: u64::from(size),
                },
                2,
            ),
            None => Status::Partial,
        });
    }
    // long-size = 8OCTET, network byte order: "Body is 0 to 2^63-1 octets".
    let Some(bytes) = buf.get(1..9) else {
        return Ok(Status::Partial);
    };
    let mut size = [0u8; 8];
    size.copy_from_slice(bytes);
    let size = u64::from_be_bytes(size);
    if size > i64::MAX as u64 {
        return Err(ZmtpError::LongSize(size));
    }
    Ok(Status::Complete(FrameHeader { flags, size }, 9))
}

/// A command frame's body: command-name = short-size 1*255command-name-char, then data.
#[derive(Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// Splits a complete command body into its name and data.
pub fn parse_command(body: &[u8]) -> Result<Command<'_>, ZmtpError> {
    let (&len, rest) = body.split_first().ok_or(ZmtpError::CommandNameEmpty)?;
    if len == 0 {
        return Err(ZmtpError::CommandNameEmpty);
    }
    let name = rest
        .get(..usize::from(len))
        .ok_or(ZmtpError::CommandNameTruncated)?;
    // command-name-char = ALPHA
    if let Some(&b) = name.iter().find(|b| !b.is_ascii_alphabetic()) {
        return Err(ZmtpError::CommandNameChar(b));
    }
    // ALPHA is ASCII, so this cannot fail; the fallback keeps the function panic-free.
    let name = std::str::from_utf8(name).map_err(|_| ZmtpError::CommandNameChar(0))?;
    Ok(Command {
        name,
        data: &rest[usize::from(len)..],
    })
}

/// One metadata property of READY (RFC 37 "The NULL Security Mechanism").
#[derive(Debug, PartialEq, Eq)]
pub struct Property<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

/// metadata = *property; property = name value; name = short-size 1*255name-char;
/// value = 4OCTET *OCTET (size in network byte order).
pub fn parse_metadata(mut data: &[u8]) -> Result<Vec<Property<'_>>, ZmtpError> {
    let mut props = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        // "Zero-sized names are not valid."
        if len == 0 {
            return Err(ZmtpError::PropertyNameEmpty);
        }
        let len = usize::from(len);
        let name = rest.get(..len).ok_or(ZmtpError::PropertyTruncated)?;
        if let Some(&b) = name
            .iter()
            .find(|&&b| !(b.is_ascii_alphanumeric() || b"-_.+".contains(&b)))
        {
            return Err(ZmtpError::PropertyNameChar(b));
        }
        let name = std::str::from_utf8(name).map_err(|_| ZmtpError::PropertyNameChar(0))?;
        let size_bytes = rest.get(len..len + 4).ok_or(ZmtpError::PropertyTruncated)?;
        let size = u32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]);
        // "The value SHALL be 0 to 2,147,483,647 (2^31-1) octets."
        if size > i32::MAX as u32 {
            return Err(ZmtpError::PropertyValueSize(size));
        }
        let start = len + 4;
        let end = start
            .checked_add(size as usize)
            .ok_or(ZmtpError::PropertyTruncated)?;
        let value = rest.get(start..end).ok_or(ZmtpError::PropertyTruncated)?;
        props.push(Property { name, value });
        data = &rest[end..];
    }
    Ok(props)
}

/// The commands RFC 37 defines, with their data decoded; any other name is `Other`
/// (security mechanisms such as CURVE define their own: HELLO, WELCOME, INITIATE…).
#[derive(Debug, PartialEq, Eq)]
pub enum Known<'a> {
    /// ready = command-size %d5 "READY" metadata
    Ready(Vec<Property<'a>>),
    /// error = command-size %d5 "ERROR" error-reason
    Error(&'a [u8]),
    /// subscribe = command-size %d9 "SUBSCRIBE" subscription
    Subscribe(&'a [u8]),
    /// cancel = command-size %d6 "CANCEL" subscription
    Cancel(&'a [u8]),
    /// ping = command-size %d4 "PING" ping-ttl ping-context
    Ping {
        ttl: u16,
        context: &'a [u8],
    },
    /// pong = command-size %d4 "PONG" ping-context
    Pong(&'a [u8]),
    Other(Command<'a>),
}

/// Decodes the data of the commands RFC 37 defines. Names are matched as sent (libzmq sends
/// them in capitals).
pub fn interpret(cmd: Command<'_>) -> Result<Known<'_>, ZmtpError> {
    Ok(match cmd.name {
        "READY" => Known::Ready(parse_metadata(cmd.data)?),
        "ERROR" => {
            // error-reason = short-size 0*255VCHAR
            let (&len, rest) = cmd
                .data
                .split_first()
                .ok_or(ZmtpError::ErrorReasonTruncated)?;
            Known::Error(
                rest.get(..usize::from(len))
                    .ok_or(ZmtpError::ErrorReasonTruncated)?,
            )
        }
        "SUBSCRIBE" => Known::Subscribe(cmd.data),
        "CANCEL" => Known::Cancel(cmd.data),
        "PING" => {
            // ping-ttl = 2OCTET (tenths of a second); ping-context = 0*16OCTET
            let ttl = cmd.data.get(..2).ok_or(ZmtpError::PingTtl)?;
            let context = &cmd.data[2..];
            if context.len() > 16 {
                return Err(ZmtpError::PingContext(context.len()));
            }
            Known::Ping {
                ttl: u16::from_be_bytes([ttl[0], ttl[1]]),
                context,
            }
        }
        "PONG" => {
            if cmd.data.len() > 16 {
                return Err(ZmtpError::PingContext(cmd.data.len()));
            }
            Known::Pong(cmd.data)
        }
        _ => Known::Other(cmd),
    })
}

/// ZMTP 3.0 subscriptions (RFC 29/PUBSUB, kept by libzmq 4.3 for 3.1 peers too): a SUB
/// sends a one-part message whose first octet is 1 (subscribe) or 0 (cancel), then the
/// topic. Returns (subscribe?, topic) for such a body.
pub fn legacy_subscription(body: &[u8]) -> Option<(bool, &[u8])> {
    match body.split_first() {
        Some((1, topic)) => Some((true, topic)),
        Some((0, topic)) => Some((false, topic)),
        _ => None,
    }
}

/// The socket pairs RFC 37 allows ("The Socket-Type Property" table), for the types netlab
/// meets. Unknown names are not judged.
pub fn compatible(a: &str, b: &str) -> Option<bool> {
    let peers: &[&str] = match a {
        "REQ" => &["REP", "ROUTER"],
        "REP" => &["REQ", "DEALER"],
        "DEALER" => &["REP", "DEALER", "ROUTER"],
        "ROUTER" => &["REQ", "DEALER", "ROUTER"],
        "PUB" | "XPUB" => &["SUB", "XSUB"],
        "SUB" | "XSUB" => &["PUB", "XPUB"],
        "PUSH" => &["PULL"],
        "PULL" => &["PUSH"],
        "PAIR" => &["PAIR"],
        _ => return None,
    };
    Some(peers.contains(&b))
}

#[cfg(test)]
#[path = "zmtp_tests.rs"]
pub(crate) mod tests;
