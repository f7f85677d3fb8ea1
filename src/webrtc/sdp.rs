//! SDP for a data-channel-only session: RFC 8866 (the syntax), RFC 8841 (the `m=application
//! … UDP/DTLS/SCTP webrtc-datachannel` section, `a=sctp-port`, `a=max-message-size`),
//! RFC 8839 (`a=ice-ufrag`, `a=ice-pwd`, `a=candidate`, `a=ice-lite`), RFC 8122 and RFC 8842
//! (`a=fingerprint`, `a=setup`), RFC 9143 (`a=group:BUNDLE`), and the offer/answer model of
//! RFC 3264.
//!
//! Wire only: text ↔ [`Description`]. [`parse`] tolerates what browsers add (attributes it
//! does not know, CRLF or LF, session- or media-level ICE and fingerprint lines, mDNS
//! candidates) and rejects what this peer cannot honour with one [`SdpError`] each.

use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// RFC 8842 §5.1 / RFC 4145 §4: who starts the DTLS handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// "actpass": the offerer lets the answerer choose.
    Actpass,
    /// "active": this side is the DTLS client.
    Active,
    /// "passive": this side is the DTLS server.
    Passive,
}

impl Setup {
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Actpass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
        }
    }
}

/// What one side says about itself in an offer or an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub ice_ufrag: String,
    pub ice_pwd: String,
    /// RFC 8839 §5.3: this agent is ICE-lite (answers checks, never sends them).
    pub ice_lite: bool,
    /// RFC 8122 §5: SHA-256 of the DTLS certificate, 32 bytes.
    pub fingerprint: [u8; 32],
    pub setup: Setup,
    /// RFC 9143 / RFC 8843: the media id the answer must repeat.
    pub mid: String,
    /// RFC 8841 §5: the SCTP port inside the DTLS association (5000 by custom).
    pub sctp_port: u16,
    /// RFC 8841 §6: the largest message this side can receive; 65536 when absent (§6.1).
    pub max_message_size: u32,
    /// Host candidates, UDP, component 1 (RFC 8839 §5.1); mDNS names are skipped.
    pub candidates: Vec<SocketAddr>,
    /// Every `a=candidate:` value as written, for the full ICE agent to parse (and refuse
    /// with a reason); when writing, these lines replace the host lines of `candidates`.
    pub candidate_lines: Vec<String>,
    /// RFC 8838: `a=ice-options:trickle`: this side sends candidates after its SDP
    /// too; when writing, `a=end-of-candidates` is left for the last trickled fragment.
    pub trickle: bool,
    /// RFC 8840: the SDP ended with `a=end-of-candidates` (no more will come).
    pub end_of_candidates: bool,
}

/// One way an SDP can be unacceptable, in the words of the RFC it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdpError {
    /// RFC 8866 §5: "An SDP description … begins with v=0".
    NotSdp,
    /// A line that is not `<type>=<value>` with a one-letter type (RFC 8866 §5).
    BadLine(usize),
    /// No `m=application … UDP/DTLS/SCTP webrtc-datachannel` section (RFC 8841 §4).
    NoDataChannel,
    /// The pre-RFC 8841 form `DTLS/SCTP 5000` + `a=sctpmap`, which this peer does not speak.
    LegacySctp,
    /// An audio or video section: this peer carries data channels only.
    Media(String),
    /// RFC 8839 §5.4: `a=ice-ufrag` missing.
    MissingIceUfrag,
    /// RFC 8839 §5.4: `a=ice-pwd` missing.
    MissingIcePwd,
    /// RFC 8839 §5.4: "ice-ufrag … MUST be at least 4 characters and at most 256".
    IceUfragLength(usize),
    /// RFC 8839 §5.4: "ice-pwd … MUST be at least 22 characters and at most 256".
    IcePwdLength(usize),
    /// RFC 8122 §5 / RFC 8842 §5: no `a=fingerprint` at all.
    NoFingerprint,
    /// Fingerprints only with hash functions other than sha-256 (these are listed).
    NoSha256Fingerprint(String),
    /// A sha-256 fingerprint that is not 32 hex pairs joined by ':' (RFC 8122 §5).
    BadFingerprint(String),
    /// RFC 8842 §5.1: a=setup other than actpass, active, passive.
    BadSetup(String),
    /// RFC 8842 §5.3: an answer MUST say active or passive (and one was missing or actpass).
    AnswerSetup(String),
    /// RFC 8841 §5: `a=sctp-port` not a port number.
    BadSctpPort(String),
    /// RFC 8841 §6: `a=max-message-size` not a number.
    BadMaxMessageSize(String),
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::NotSdp => write!(
                f,
                "not an SDP description: it must begin with v=0 (RFC 8866 §5)"
            ),
            SdpError::BadLine(n) => write!(f, "line {n} is not <type>=<value> (RFC 8866 §5)"),
            SdpError::NoDataChannel => write!(
                f,
                "no data channel: expected m=application <port> UDP/DTLS/SCTP webrtc-datachannel (RFC 8841 §4)"
            ),
            SdpError::LegacySctp => write!(
                f,
                "legacy DTLS/SCTP + a=sctpmap section: only the RFC 8841 form UDP/DTLS/SCTP webrtc-datachannel is supported"
            ),
            SdpError::Media(kind) => {
                write!(
                    f,
                    "m={kind}: this peer carries data channels only, no audio or video"
                )
            }
            SdpError::MissingIceUfrag => write!(f, "a=ice-ufrag is missing (RFC 8839 §5.4)"),
            SdpError::MissingIcePwd => write!(f, "a=ice-pwd is missing (RFC 8839 §5.4)"),
            SdpError::IceUfragLength(n) => write!(
                f,
                "a=ice-ufrag has {n} characters: it MUST have 4 to 256 (RFC 8839 §5.4)"
            ),
            SdpError::IcePwdLength(n) => write!(
                f,
                "a=ice-pwd has {n} characters: it MUST have 22 to 256 (RFC 8839 §5.4)"
            ),
            SdpError::NoFingerprint => {
                write!(
                    f,
                    "a=fingerprint is missing: DTLS needs the peer's certificate hash (RFC 8122 §5)"
                )
            }
            SdpError::NoSha256Fingerprint(algs) => {
                write!(
                    f,
                    "a=fingerprint uses {algs}: this peer checks sha-256 only"
                )
            }
            SdpError::BadFingerprint(v) => write!(
                f,
                "a=fingerprint:sha-256 {v}: expected 32 hex pairs joined by ':' (RFC 8122 §5)"
            ),
            SdpError::BadSetup(v) => write!(
                f,
                "a=setup:{v}: expected actpass, active or passive (RFC 8842 §5.1)"
            ),
            SdpError::AnswerSetup(v) => write!(
                f,
                "an answer's a=setup must be active or passive, not {v} (RFC 8842 §5.3)"
            ),
            SdpError::BadSctpPort(v) => write!(f, "a=sctp-port:{v} is not a port (RFC 8841 §5)"),
            SdpError::BadMaxMessageSize(v) => {
                write!(f, "a=max-message-size:{v} is not a number (RFC 8841 §6)")
            }
        }
    }
}

impl std::error::Error for SdpError {}

/// Offer or answer (RFC 3264): an answer repeats the offer's mid and picks a DTLS role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Offer,
    Answer,
}

/// Writes the description as SDP, CRLF line ends (RFC 8866 §5). `session_id` goes in `o=`.
pub fn write(d: &Description, session_id: u64) -> String {
    let port = d.candidates.first().map_or(9, |c| c.port());
    let mut s = String::new();
    // `let _ =`: writing into a String cannot fail.
    let _ = write!(s, "v=0\r\n");
    let _ = write!(s, "o=- {session_id} 2 IN IP4 127.0.0.1\r\n");
    let _ = write!(s, "s=-\r\nt=0 0\r\n");
    let _ = write!(s, "a=group:BUNDLE {}\r\n", d.mid);
    if d.ice_lite {
        let _ = write!(s, "a=ice-lite\r\n");
    }
    let _ = write!(
        s,
        "m=application {port} UDP/DTLS/SCTP webrtc-datachannel\r\n"
    );
    let _ = write!(s, "c=IN IP4 127.0.0.1\r\n");
    let _ = write!(s, "a=mid:{}\r\n", d.mid);
    let _ = write!(s, "a=ice-ufrag:{}\r\n", d.ice_ufrag);
    let _ = write!(s, "a=ice-pwd:{}\r\n", d.ice_pwd);
    if d.trickle {
        let _ = write!(s, "a=ice-options:trickle\r\n");
    }
    let _ = write!(
        s,
        "a=fingerprint:sha-256 {}\r\n",
        fingerprint_hex(&d.fingerprint)
    );
    let _ = write!(s, "a=setup:{}\r\n", d.setup.as_str());
    let _ = write!(s, "a=sctp-port:{}\r\n", d.sctp_port);
    let _ = write!(s, "a=max-message-size:{}\r\n", d.max_message_size);
    for line in &d.candidate_lines {
        let _ = write!(s, "a=candidate:{line}\r\n");
    }
    for (i, c) in d.candidates.iter().enumerate() {
        // The full agent writes its own lines (none at all, when it trickles its only
        // candidate, a relayed one, after the offer).
        if !d.candidate_lines.is_empty() || !d.ice_lite {
            break;
        }
        // RFC 8445 §5.1.2.1: priority = 2^24·type preference + 2^8·local preference + 256 − component.
        let priority = (126u32 << 24) | ((65535 - i as u32) << 8) | (256 - 1);
        let _ = write!(
            s,
            "a=candidate:{} 1 udp {priority} {} {} typ host\r\n",
            i + 1,
            c.ip(),
            c.port()
        );
    }
    if d.end_of_candidates {
        let _ = write!(s, "a=end-of-candidates\r\n");
    }
    s
}

/// RFC 8122 §5: "uppercase hex pairs separated by colons".
pub fn fingerprint_hex(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_fingerprint(v: &str) -> Result<[u8; 32], SdpError> {
    let bad = || SdpError::BadFingerprint(v.to_string());
    let mut out = [0u8; 32];
    let mut n = 0;
    for pair in v.split(':') {
        if n == 32 || pair.len() != 2 {
            return Err(bad());
        }
        out[n] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        n += 1;
    }
    if n == 32 { Ok(out) } else { Err(bad()) }
}

/// `a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …`
/// (RFC 8839 §5.1). Only UDP, component 1, literal addresses: an mDNS name (`….local`) is
/// skipped, since an ICE-lite agent never has to send to a candidate.
fn parse_candidate(v: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() < 8 || f[1] != "1" || !f[2].eq_ignore_ascii_case("udp") {
        return None;
    }
    let ip: IpAddr = f[4].parse().ok()?;
    let port: u16 = f[5].parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// The attributes of the data channel section as written, before they are checked.
/// Session-level values apply to every section unless the section repeats them (RFC 8866
/// §5), so one set serves both levels.
#[derive(Default)]
struct Attributes {
    ufrag: Option<String>,
    pwd: Option<String>,
    setup: Option<String>,
    mid: Option<String>,
    sctp_port: Option<String>,
    max_size: Option<String>,
    fingerprints: Vec<(String, String)>,
    candidates: Vec<SocketAddr>,
    candidate_lines: Vec<String>,
    ice_lite: bool,
    trickle: bool,
    end_of_candidates: bool,
}

impl Attributes {
    /// One `a=name:arg` line.
    fn add(&mut self, name: &str, arg: &str) {
        match name {
            "ice-ufrag" => self.ufrag = Some(arg.to_string()),
            "ice-pwd" => self.pwd = Some(arg.to_string()),
            "ice-lite" => self.ice_lite = true,
            "ice-options" => self.trickle |= arg.split_whitespace().any(|o| o == "trickle"),
            "end-of-candidates" => self.end_of_candidates = true,
            "fingerprint" => {
                let (alg, v) = arg.split_once(' ').unwrap_or((arg, ""));
                self.fingerprints
                    .push((alg.to_ascii_lowercase(), v.trim().to_string()));
            }
            "setup" => self.setup = Some(arg.to_string()),
            "mid" => self.mid = Some(arg.to_string()),
            "sctp-port" => self.sctp_port = Some(arg.to_string()),
            "max-message-size" => self.max_size = Some(arg.to_string()),
            "candidate" => {
                self.candidates.extend(parse_candidate(arg));
                self.candidate_lines.push(arg.to_string());
            }
            // Everything else (other ice-options, extmap-allow-mixed, msid-semantic, …) is tolerated.
            _ => {}
        }
    }
}

/// Parses an offer or an answer from the other side: the lines first, then each value
/// checked by its own rule.
pub fn parse(text: &str, kind: Kind) -> Result<Description, SdpError> {
    let a = read_lines(text)?;
    let (ice_ufrag, ice_pwd) = ice_credentials(a.ufrag, a.pwd)?;
    Ok(Description {
        ice_ufrag,
        ice_pwd,
        ice_lite: a.ice_lite,
        fingerprint: sha256_fingerprint(&a.fingerprints)?,
        setup: setup(a.setup.as_deref(), kind)?,
        mid: a.mid.unwrap_or_else(|| "0".into()),
        sctp_port: sctp_port(a.sctp_port)?,
        max_message_size: max_message_size(a.max_size)?,
        candidates: a.candidates,
        candidate_lines: a.candidate_lines,
        trickle: a.trickle,
        end_of_candidates: a.end_of_candidates,
    })
}

/// `v=0`, then every `type=value` line; the attributes of the session and of the first
/// data channel section are kept, those of any other section skipped.
fn read_lines(text: &str) -> Result<Attributes, SdpError> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .enumerate()
        .filter(|(_, l)| !l.is_empty());
    match lines.next() {
        Some((_, "v=0")) => {}
        _ => return Err(SdpError::NotSdp),
    }
    let mut attributes = Attributes::default();
    // Which section the line is in: None before the first m=, then whether it is ours.
    let mut in_section: Option<bool> = None;
    let mut found = false;
    for (n, line) in lines {
        let (ty, value) = match line.split_once('=') {
            Some((ty, value)) if ty.len() == 1 => (ty, value),
            _ => return Err(SdpError::BadLine(n + 1)),
        };
        if ty == "m" {
            // A second data channel section is ignored, like any other.
            let ours = media_section(value)? && !found;
            found |= ours;
            in_section = Some(ours);
            continue;
        }
        if in_section == Some(false) || ty != "a" {
            continue;
        }
        let (name, arg) = value.split_once(':').unwrap_or((value, ""));
        attributes.add(name, arg);
    }
    if !found {
        return Err(SdpError::NoDataChannel);
    }
    Ok(attributes)
}

/// An `m=` line: `true` for a data channel section (RFC 8841 §4), `false` for another
/// application section (ignored, its attributes too); media and the legacy SCTP form are
/// refused.
fn media_section(value: &str) -> Result<bool, SdpError> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let media = f.first().copied().unwrap_or("");
    match (media, f.get(2).copied(), f.get(3).copied()) {
        ("application", Some(proto), Some("webrtc-datachannel"))
            if proto.ends_with("DTLS/SCTP") =>
        {
            Ok(true)
        }
        ("application", Some("DTLS/SCTP"), _) => Err(SdpError::LegacySctp),
        ("audio" | "video", _, _) => Err(SdpError::Media(media.to_string())),
        _ => Ok(false),
    }
}

/// RFC 8839 §5.4: ice-ufrag of 4 to 256 characters, ice-pwd of 22 to 256.
fn ice_credentials(
    ufrag: Option<String>,
    pwd: Option<String>,
) -> Result<(String, String), SdpError> {
    let ufrag = ufrag.ok_or(SdpError::MissingIceUfrag)?;
    let pwd = pwd.ok_or(SdpError::MissingIcePwd)?;
    let n = ufrag.chars().count();
    if !(4..=256).contains(&n) {
        return Err(SdpError::IceUfragLength(n));
    }
    let n = pwd.chars().count();
    if !(22..=256).contains(&n) {
        return Err(SdpError::IcePwdLength(n));
    }
    Ok((ufrag, pwd))
}

/// RFC 8122 §5: the sha-256 one of the `a=fingerprint` lines.
fn sha256_fingerprint(fingerprints: &[(String, String)]) -> Result<[u8; 32], SdpError> {
    if fingerprints.is_empty() {
        return Err(SdpError::NoFingerprint);
    }
    match fingerprints.iter().find(|(alg, _)| alg == "sha-256") {
        Some((_, v)) => parse_fingerprint(v),
        None => {
            let algs: Vec<&str> = fingerprints.iter().map(|(a, _)| a.as_str()).collect();
            Err(SdpError::NoSha256Fingerprint(algs.join(", ")))
        }
    }
}

/// `a=setup` (RFC 4145 §4, RFC 8842 §5.3): an offer may say actpass, an answer must not.
fn setup(value: Option<&str>, kind: Kind) -> Result<Setup, SdpError> {
    match (value, kind) {
        (Some("actpass"), Kind::Offer) => Ok(Setup::Actpass),
        // RFC 4145 §4: an offer without a=setup means active.
        (None, Kind::Offer) => Ok(Setup::Active),
        (Some("active"), _) => Ok(Setup::Active),
        (Some("passive"), _) => Ok(Setup::Passive),
        (Some(v @ "actpass"), Kind::Answer) => Err(SdpError::AnswerSetup(v.to_string())),
        (None, Kind::Answer) => Err(SdpError::AnswerSetup("nothing (a=setup missing)".into())),
        (Some(v), _) => Err(SdpError::BadSetup(v.to_string())),
    }
}

/// `a=sctp-port` (RFC 8841 §5.2), 5000 when absent.
fn sctp_port(value: Option<String>) -> Result<u16, SdpError> {
    match value {
        None => Ok(DEFAULT_SCTP_PORT),
        Some(v) => v.trim().parse().map_err(|_| SdpError::BadSctpPort(v)),
    }
}

/// RFC 8841 §6.1: absent means 64 KiB; 0 means "no limit", kept as the largest.
fn max_message_size(value: Option<String>) -> Result<u32, SdpError> {
    match value {
        None => Ok(DEFAULT_MAX_MESSAGE_SIZE),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(0) => Ok(u32::MAX),
            Ok(n) => Ok(n.min(u32::MAX as u64) as u32),
            Err(_) => Err(SdpError::BadMaxMessageSize(v)),
        },
    }
}

/// RFC 8841 §5.2: the SCTP port when `a=sctp-port` is absent.
const DEFAULT_SCTP_PORT: u16 = 5000;
/// RFC 8841 §6.1: the largest message when `a=max-message-size` is absent.
const DEFAULT_MAX_MESSAGE_SIZE: u32 = 65536;

/// RFC 8842 §5.3: the DTLS role this side takes. The answerer picks from the offer's
/// `a=setup`; the offerer learns it from the answer's. `true` means DTLS client.
pub fn we_are_dtls_client(remote: Setup, we_offered: bool) -> bool {
    match (remote, we_offered) {
        // They are passive (server): we connect.
        (Setup::Passive, _) => true,
        (Setup::Active, _) => false,
        // Only an offer says actpass; we answer passive (the choice Chrome and aiortc make too).
        (Setup::Actpass, _) => false,
    }
}

/// The `a=setup` an answerer writes for a given offer (RFC 8842 §5.3).
pub fn answer_setup(offer: Setup) -> Setup {
    match offer {
        Setup::Actpass | Setup::Active => Setup::Passive,
        Setup::Passive => Setup::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Chromium sends for `createDataChannel` alone (trimmed of nothing but its length).
    const CHROME_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Zp3b\r\na=ice-pwd:Qbw2cO5fKTqI0vi3x9S5Gq7J\r\na=ice-options:trickle\r\na=fingerprint:sha-256 2C:0B:6E:21:B7:6F:6E:7D:AC:2B:99:63:75:2D:F0:57:5B:35:63:B9:6C:3E:5D:E1:46:33:1F:92:04:8F:1E:DE\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";

    /// What aiortc 1.16 offers: candidates in the SDP, three fingerprints (sha-256 first).
    const AIORTC_OFFER: &str = "v=0\r\no=- 4005111039 4005111039 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic:WMS *\r\nm=application 59683 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\na=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 59683 typ host\r\na=end-of-candidates\r\na=ice-ufrag:IiVV\r\na=ice-pwd:HhtiyOfAQpOxp1LpoITUHC\r\na=fingerprint:sha-256 3D:D0:87:8A:F3:7E:57:7B:FE:E5:1D:EC:2F:1A:59:5C:BB:85:D2:DE:60:FC:25:1D:41:94:34:F2:B4:56:10:AF\r\na=fingerprint:sha-384 33:DE:C2:A4:E8:D8:99:58:EC:3B:60:86:7F:6D:F2:22:9A:3F:EC:26:86:B8:CC:FB:8C:D7:8D:1C:D1:8A:45:7B:2B:57:E5:AE:4B:CA:D3:3A:F2:67:B3:FE:60:3F:05:41\r\na=setup:actpass\r\n";

    #[test]
    fn an_aiortc_offer_parses_with_its_candidate_and_sha_256() {
        let d = parse(AIORTC_OFFER, Kind::Offer).unwrap();
        assert_eq!(d.candidates, ["127.0.0.1:59683".parse().unwrap()]);
        assert_eq!(d.fingerprint[..2], [0x3d, 0xd0], "the sha-256 one of three");
        assert_eq!((d.ice_ufrag.as_str(), d.setup), ("IiVV", Setup::Actpass));
    }

    fn ours() -> Description {
        Description {
            ice_ufrag: "abcd".into(),
            ice_pwd: "0123456789abcdefghijkl".into(),
            ice_lite: true,
            fingerprint: [0xab; 32],
            setup: Setup::Passive,
            mid: "0".into(),
            sctp_port: 5000,
            max_message_size: 262144,
            candidates: vec!["127.0.0.1:4000".parse().unwrap()],
            candidate_lines: Vec::new(),
            trickle: false,
            end_of_candidates: true,
        }
    }

    #[test]
    fn a_chrome_offer_parses() {
        let d = parse(CHROME_OFFER, Kind::Offer).unwrap();
        assert_eq!(d.ice_ufrag, "Zp3b");
        assert_eq!(d.setup, Setup::Actpass);
        assert_eq!(d.mid, "0");
        assert_eq!(d.max_message_size, 262144);
        assert_eq!(d.fingerprint[0], 0x2c);
        assert!(d.candidates.is_empty());
        assert!(!d.ice_lite);
    }

    #[test]
    fn lf_line_ends_and_unknown_attributes_are_tolerated() {
        let lf = CHROME_OFFER.replace("\r\n", "\n") + "a=something-new:1\n";
        assert_eq!(parse(&lf, Kind::Offer), parse(CHROME_OFFER, Kind::Offer));
    }

    #[test]
    fn our_answer_parses_back_to_itself() {
        let d = ours();
        let text = write(&d, 7);
        assert!(text.contains("a=setup:passive\r\n"));
        assert!(text.contains("a=candidate:1 1 udp 2130706431 127.0.0.1 4000 typ host\r\n"));
        assert!(text.contains("m=application 4000 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
        // Parsed, the line is kept whole too, for the full agent.
        let mut back = d.clone();
        back.candidate_lines = vec!["1 1 udp 2130706431 127.0.0.1 4000 typ host".into()];
        assert_eq!(parse(&text, Kind::Answer), Ok(back.clone()));
        // The full agent's lines are written as they are, in place of the host lines.
        let text = write(&back, 7);
        assert_eq!(text.matches("a=candidate:").count(), 1);
        assert_eq!(parse(&text, Kind::Answer), Ok(back));
    }

    #[test]
    fn candidates_keep_literal_udp_addresses_only() {
        assert_eq!(
            parse_candidate("1 1 udp 2130706431 127.0.0.1 5555 typ host generation 0"),
            Some("127.0.0.1:5555".parse().unwrap())
        );
        assert_eq!(
            parse_candidate("1 1 udp 2130706431 3f2a.local 5555 typ host"),
            None
        );
        assert_eq!(
            parse_candidate("1 1 tcp 2130706431 127.0.0.1 9 typ host tcptype active"),
            None
        );
        assert_eq!(
            parse_candidate("1 2 udp 2130706431 127.0.0.1 5555 typ host"),
            None
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_rejected_by_name() {
        let o = CHROME_OFFER;
        let cases: Vec<(String, SdpError)> = vec![
            ("hello".into(), SdpError::NotSdp),
            (o.replace("m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=application 9 DTLS/SCTP 5000"), SdpError::LegacySctp),
            (o.replace("m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=audio 9 UDP/TLS/RTP/SAVPF 111"), SdpError::Media("audio".into())),
            ("v=0\r\ns=-\r\n".into(), SdpError::NoDataChannel),
            (o.replace("a=ice-ufrag:Zp3b\r\n", ""), SdpError::MissingIceUfrag),
            (o.replace("a=ice-pwd:Qbw2cO5fKTqI0vi3x9S5Gq7J\r\n", ""), SdpError::MissingIcePwd),
            (o.replace("a=ice-ufrag:Zp3b", "a=ice-ufrag:Zp3"), SdpError::IceUfragLength(3)),
            (o.replace("a=ice-pwd:Qbw2cO5fKTqI0vi3x9S5Gq7J", "a=ice-pwd:short"), SdpError::IcePwdLength(5)),
            (o.replace("sha-256 2C:0B", "sha-1 2C:0B"), SdpError::NoSha256Fingerprint("sha-1".into())),
            (o.replace("sha-256 2C:0B", "sha-256 2C0B"), SdpError::BadFingerprint("2C0B:6E:21:B7:6F:6E:7D:AC:2B:99:63:75:2D:F0:57:5B:35:63:B9:6C:3E:5D:E1:46:33:1F:92:04:8F:1E:DE".into())),
            (o.replace("a=setup:actpass", "a=setup:holdconn"), SdpError::BadSetup("holdconn".into())),
            (o.replace("a=sctp-port:5000", "a=sctp-port:x"), SdpError::BadSctpPort("x".into())),
            (o.replace("a=max-message-size:262144", "a=max-message-size:-1"), SdpError::BadMaxMessageSize("-1".into())),
            (o.replace("a=ice-options", "garbage line\r\na=ice-options"), SdpError::BadLine(12)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(&text, Kind::Offer), Err(want.clone()), "{want}");
        }
        let fp: Vec<&str> = o
            .lines()
            .filter(|l| !l.starts_with("a=fingerprint"))
            .collect();
        assert_eq!(
            parse(&fp.join("\r\n"), Kind::Offer),
            Err(SdpError::NoFingerprint)
        );
        assert_eq!(
            parse(o, Kind::Answer),
            Err(SdpError::AnswerSetup("actpass".into())),
            "an answer cannot say actpass"
        );
    }

    #[test]
    fn roles_follow_rfc_8842() {
        assert_eq!(answer_setup(Setup::Actpass), Setup::Passive);
        assert_eq!(answer_setup(Setup::Passive), Setup::Active);
        assert!(!we_are_dtls_client(Setup::Actpass, false));
        assert!(we_are_dtls_client(Setup::Passive, true));
        assert!(!we_are_dtls_client(Setup::Active, true));
    }
}
