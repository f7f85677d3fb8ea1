//! ICE, the little this peer needs: an ICE-lite responder (RFC 8445 §2.5: a lite agent only
//! answers connectivity checks) and, for when this peer offers to another lite agent (two
//! lite agents cannot connect, §6.1.1), a controlling checker that sends one check and
//! nominates (§7.2, §8.1.1). STUN messages (RFC 8489) are encoded by the `stun` crate through
//! [`super::stun_codec`]; the ICE attributes (§16.1) are added raw, since that crate only
//! names them.
//!
//! State machines without I/O: datagrams and `now` in, datagrams and decisions out. The socket
//! loop is [`super::peer`].

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use stun::agent::TransactionId;
use stun::attributes::{ATTR_USERNAME, AttrType};
use stun::error_code::{CODE_BAD_REQUEST, CODE_UNAUTHORIZED, ErrorCode, ErrorCodeAttribute};
use stun::integrity::MessageIntegrity;
use stun::message::{
    BINDING_ERROR, BINDING_REQUEST, BINDING_SUCCESS, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE,
    METHOD_BINDING, Message, Setter,
};
use stun::textattrs::TextAttribute;
use stun::xoraddr::XorMappedAddress;

use super::stun_codec::{self, CodecError};

pub mod agent;
pub mod candidate;
pub mod gather;
pub mod priority;
pub mod trickle;

/// RFC 8445 §16.1: PRIORITY.
pub const ATTR_PRIORITY: AttrType = AttrType(0x0024);
/// RFC 8445 §16.1: USE-CANDIDATE (no value): the controlling agent nominates this pair.
pub const ATTR_USE_CANDIDATE: AttrType = AttrType(0x0025);
/// RFC 8445 §16.1: ICE-CONTROLLED, with the sender's tie-breaker.
pub const ATTR_ICE_CONTROLLED: AttrType = AttrType(0x8029);
/// RFC 8445 §16.1: ICE-CONTROLLING, with the sender's tie-breaker.
pub const ATTR_ICE_CONTROLLING: AttrType = AttrType(0x802A);

/// One side's ICE credentials (RFC 8445 §5.3, from `a=ice-ufrag` / `a=ice-pwd`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub ufrag: String,
    pub pwd: String,
}

/// Why a STUN datagram got no success response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IceError {
    /// RFC 8489 §6: not a well-formed STUN message.
    Malformed(String),
    /// RFC 8489 §14.7: FINGERPRINT missing or wrong: "MUST be discarded" (RFC 8445 §7.3).
    Fingerprint,
    /// A request for a method other than Binding: 400 (RFC 8489 §6.3.1).
    NotBinding(String),
    /// RFC 8489 §9.1.3: "If the message does not contain both a MESSAGE-INTEGRITY and a
    /// USERNAME attribute … 400 (Bad Request)".
    NoCredentials,
    /// RFC 8445 §7.3: USERNAME is not `<our ufrag>:<theirs>`: 401 (Unauthorized).
    WrongUsername(String),
    /// RFC 8489 §9.1.3: MESSAGE-INTEGRITY does not verify with our ice-pwd: 401.
    WrongIntegrity,
    /// A response (or indication) where a request was expected, or one for no check of ours.
    Unexpected(String),
}

impl fmt::Display for IceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IceError::Malformed(e) => write!(f, "not a STUN message: {e} (RFC 8489 §6)"),
            IceError::Fingerprint => {
                write!(f, "FINGERPRINT missing or wrong: discarded (RFC 8445 §7.3)")
            }
            IceError::NotBinding(m) => write!(f, "method {m} is not Binding: 400 Bad Request"),
            IceError::NoCredentials => write!(
                f,
                "no USERNAME or MESSAGE-INTEGRITY: 400 Bad Request (RFC 8489 §9.1.3)"
            ),
            IceError::WrongUsername(u) => write!(
                f,
                "USERNAME {u:?} is not <our ufrag>:<theirs>: 401 Unauthorized (RFC 8445 §7.3)"
            ),
            IceError::WrongIntegrity => write!(
                f,
                "MESSAGE-INTEGRITY does not verify with our ice-pwd: 401 Unauthorized (RFC 8489 §9.1.3)"
            ),
            IceError::Unexpected(what) => write!(f, "unexpected STUN {what}: ignored"),
        }
    }
}

impl std::error::Error for IceError {}

impl From<CodecError> for IceError {
    fn from(e: CodecError) -> IceError {
        match e {
            CodecError::Malformed(m) => IceError::Malformed(m),
            CodecError::Fingerprint => IceError::Fingerprint,
        }
    }
}

/// What the responder does with a datagram.
#[derive(Debug)]
pub enum Reply {
    /// An authenticated check: send `response` (Binding Success) back to `from`.
    Success {
        response: Vec<u8>,
        /// USE-CANDIDATE was present: the controlling agent nominated this pair.
        nominated: bool,
        /// A one-line summary of the request, for the trace.
        summary: String,
    },
    /// A request that gets a Binding Error Response (400 or 401).
    Error { response: Vec<u8>, why: IceError },
    /// Not for the responder (a response to our checker) or to be discarded silently.
    Ignore(IceError),
}

/// Decodes a STUN message; ICE requires FINGERPRINT (§7.3).
fn decode(datagram: &[u8]) -> Result<Message, IceError> {
    stun_codec::decode(datagram, true).map_err(IceError::from)
}

/// Builds a message with MESSAGE-INTEGRITY (short-term, with `pwd`) if given, and FINGERPRINT.
fn build(
    typ: stun::message::MessageType,
    tid: TransactionId,
    attrs: &[(AttrType, Vec<u8>)],
    setters: &[&dyn Setter],
    pwd: Option<&str>,
) -> Result<Vec<u8>, IceError> {
    let integrity = pwd.map(|p| MessageIntegrity::new_short_term_integrity(p.to_string()));
    stun_codec::build(typ, tid, attrs, setters, integrity.as_ref()).map_err(IceError::from)
}

/// The ICE-lite responder: answers Binding Requests authenticated with our credentials.
pub struct Responder {
    pub local: Credentials,
    /// The remote ufrag, when the other side's SDP is known (the second half of USERNAME).
    pub remote_ufrag: Option<String>,
}

impl Responder {
    /// RFC 8445 §7.3: answers one STUN datagram received from `from`.
    pub fn answer(&self, datagram: &[u8], from: SocketAddr) -> Reply {
        let req = match decode(datagram) {
            Ok(m) => m,
            Err(e) => return Reply::Ignore(e),
        };
        if req.typ.class != CLASS_REQUEST {
            return Reply::Ignore(IceError::Unexpected(req.typ.to_string()));
        }
        let error = |code: ErrorCode, why: IceError| {
            let attr = ErrorCodeAttribute {
                code,
                reason: why.to_string().into_bytes(),
            };
            match build(BINDING_ERROR, req.transaction_id, &[], &[&attr], None) {
                Ok(response) => Reply::Error { response, why },
                Err(e) => Reply::Ignore(e),
            }
        };
        if req.typ.method != METHOD_BINDING {
            let m = req.typ.method.to_string();
            return error(CODE_BAD_REQUEST, IceError::NotBinding(m));
        }
        let username = match TextAttribute::get_from_as(&req, ATTR_USERNAME) {
            Ok(u) => u.text,
            Err(_) => return error(CODE_BAD_REQUEST, IceError::NoCredentials),
        };
        // §7.3: "the username … MUST be of the form LFRAG:RFRAG", LFRAG ours.
        let ok_user = match username.split_once(':') {
            Some((l, r)) => {
                l == self.local.ufrag && self.remote_ufrag.as_deref().is_none_or(|want| want == r)
            }
            None => false,
        };
        if !ok_user {
            return error(CODE_UNAUTHORIZED, IceError::WrongUsername(username));
        }
        let mut checked = req.clone();
        let integrity = MessageIntegrity::new_short_term_integrity(self.local.pwd.clone());
        match integrity.check(&mut checked) {
            Ok(()) => {}
            Err(stun::Error::ErrAttributeNotFound) => {
                return error(CODE_BAD_REQUEST, IceError::NoCredentials);
            }
            Err(_) => return error(CODE_UNAUTHORIZED, IceError::WrongIntegrity),
        }
        let nominated = req.contains(ATTR_USE_CANDIDATE);
        let role = if req.contains(ATTR_ICE_CONTROLLING) {
            " ICE-CONTROLLING"
        } else if req.contains(ATTR_ICE_CONTROLLED) {
            " ICE-CONTROLLED"
        } else {
            ""
        };
        let summary = format!(
            "Binding Request from {from} USERNAME={username}{role}{} MESSAGE-INTEGRITY FINGERPRINT",
            if nominated { " USE-CANDIDATE" } else { "" }
        );
        // §7.3.1.1 / RFC 8489 §14.2: XOR-MAPPED-ADDRESS is the source the request came from.
        let mapped = XorMappedAddress {
            ip: from.ip(),
            port: from.port(),
        };
        match build(
            BINDING_SUCCESS,
            req.transaction_id,
            &[],
            &[&mapped],
            Some(&self.local.pwd),
        ) {
            Ok(response) => Reply::Success {
                response,
                nominated,
                summary,
            },
            Err(e) => Reply::Ignore(e),
        }
    }
}

/// The controlling checker of an offering peer whose answerer is ICE-lite (RFC 8445 §6.1.1:
/// "the full agent MUST take the controlling role"): one pair, checked and nominated at once
/// (aggressive nomination), retransmitted until a verified success.
pub struct Checker {
    pub local: Credentials,
    pub remote: Credentials,
    /// RFC 8445 §7.1.3: a random 64-bit number for role conflicts.
    pub tie_breaker: u64,
    /// Time between retransmissions (RFC 8445 §14.3's Ta is 50 ms; 200 ms is plenty here).
    pub interval: Duration,
    /// Once connected, a consent check this often (RFC 7675 §5.1: about every 5 s).
    pub consent_interval: Duration,
    pending: Option<(TransactionId, Instant)>,
    connected: bool,
}

impl Checker {
    pub fn new(local: Credentials, remote: Credentials, tie_breaker: u64) -> Checker {
        Checker {
            local,
            remote,
            tie_breaker,
            interval: Duration::from_millis(200),
            consent_interval: Duration::from_secs(5),
            pending: None,
            connected: false,
        }
    }

    /// A verified success response arrived.
    pub fn connected(&self) -> bool {
        self.connected
    }

    /// A Binding Request to send now, if one is due; `tid` is a fresh random transaction id.
    pub fn poll_request(
        &mut self,
        now: Instant,
        tid: [u8; 12],
    ) -> Option<Result<Vec<u8>, IceError>> {
        let wait = if self.connected {
            self.consent_interval
        } else {
            self.interval
        };
        if let Some((_, sent)) = self.pending {
            if now < sent + wait {
                return None;
            }
        }
        let tid = TransactionId(tid);
        self.pending = Some((tid, now));
        // §7.1.1: USERNAME is "RFRAG:LFRAG" (theirs first), integrity with their pwd.
        let user = TextAttribute::new(
            ATTR_USERNAME,
            format!("{}:{}", self.remote.ufrag, self.local.ufrag),
        );
        // §5.1.2.1: a peer-reflexive priority for our host candidate.
        let priority = (110u32 << 24) | (65535 << 8) | 255;
        Some(build(
            BINDING_REQUEST,
            tid,
            &[
                (ATTR_PRIORITY, priority.to_be_bytes().to_vec()),
                (
                    ATTR_ICE_CONTROLLING,
                    self.tie_breaker.to_be_bytes().to_vec(),
                ),
                (ATTR_USE_CANDIDATE, Vec::new()),
            ],
            &[&user],
            Some(&self.remote.pwd),
        ))
    }

    /// A STUN response: `Ok(true)` when it is a verified success for our check.
    pub fn on_response(&mut self, datagram: &[u8]) -> Result<bool, IceError> {
        let mut m = decode(datagram)?;
        let Some((tid, _)) = self.pending else {
            return Err(IceError::Unexpected(
                "response with no check pending".into(),
            ));
        };
        if m.transaction_id != tid {
            return Err(IceError::Unexpected(
                "response for another transaction".into(),
            ));
        }
        if m.typ.class != CLASS_SUCCESS_RESPONSE {
            return Err(IceError::Unexpected(m.typ.to_string()));
        }
        // RFC 8489 §9.1.4: the response is authenticated with the same (their) password.
        MessageIntegrity::new_short_term_integrity(self.remote.pwd.clone())
            .check(&mut m)
            .map_err(|_| IceError::WrongIntegrity)?;
        self.connected = true;
        Ok(true)
    }
}

/// Is this STUN datagram a request (for the responder) or a response (for the checker)?
pub fn is_request(datagram: &[u8]) -> bool {
    // RFC 8489 §5: the class bits are 0x0110 of the type; a request has both clear.
    datagram.len() >= 2 && (u16::from_be_bytes([datagram[0], datagram[1]]) & 0x0110) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::message::Getter;

    fn creds(u: &str) -> Credentials {
        Credentials {
            ufrag: u.into(),
            pwd: format!("{u}-password-0123456789"),
        }
    }

    fn pair() -> (Responder, Checker) {
        let responder = Responder {
            local: creds("lite"),
            remote_ufrag: Some("full".into()),
        };
        let checker = Checker::new(creds("full"), creds("lite"), 42);
        (responder, checker)
    }

    #[test]
    fn a_check_is_answered_and_the_answer_verifies() {
        let (responder, mut checker) = pair();
        let now = Instant::now();
        let from: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let req = checker.poll_request(now, [1; 12]).unwrap().unwrap();
        assert!(is_request(&req));
        let Reply::Success {
            response,
            nominated,
            summary,
        } = responder.answer(&req, from)
        else {
            panic!("no success")
        };
        assert!(nominated);
        assert!(
            summary.contains("USERNAME=lite:full ICE-CONTROLLING USE-CANDIDATE"),
            "{summary}"
        );
        assert!(!is_request(&response));
        // XOR-MAPPED-ADDRESS names the source of the request.
        let mut m = Message::new();
        m.unmarshal_binary(&response).unwrap();
        let mut xor = XorMappedAddress::default();
        xor.get_from(&m).unwrap();
        assert_eq!(SocketAddr::new(xor.ip, xor.port), from);
        assert_eq!(checker.on_response(&response), Ok(true));
        assert!(checker.connected());
        assert!(
            checker
                .poll_request(now + Duration::from_secs(1), [2; 12])
                .is_none()
        );
    }

    #[test]
    fn the_checker_retransmits_until_answered() {
        let (_, mut checker) = pair();
        let t0 = Instant::now();
        assert!(checker.poll_request(t0, [1; 12]).is_some());
        assert!(
            checker
                .poll_request(t0 + Duration::from_millis(100), [2; 12])
                .is_none()
        );
        assert!(
            checker
                .poll_request(t0 + Duration::from_millis(200), [3; 12])
                .is_some()
        );
    }

    #[test]
    fn wrong_credentials_get_401_and_no_credentials_400() {
        let (responder, _) = pair();
        let from: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let wrong_pwd = Checker::new(
            creds("full"),
            Credentials {
                ufrag: "lite".into(),
                pwd: "not-the-password-at-all".into(),
            },
            1,
        )
        .poll_request(Instant::now(), [1; 12])
        .unwrap()
        .unwrap();
        let wrong_user = Checker::new(creds("full"), creds("nope"), 1)
            .poll_request(Instant::now(), [1; 12])
            .unwrap()
            .unwrap();
        let bare = build(BINDING_REQUEST, TransactionId([3; 12]), &[], &[], None).unwrap();
        for (req, want, code) in [
            (wrong_pwd, IceError::WrongIntegrity, 401),
            (wrong_user, IceError::WrongUsername("nope:full".into()), 401),
            (bare, IceError::NoCredentials, 400),
        ] {
            let Reply::Error { response, why } = responder.answer(&req, from) else {
                panic!("{want}")
            };
            assert_eq!(why, want);
            let mut m = Message::new();
            m.unmarshal_binary(&response).unwrap();
            let mut e = ErrorCodeAttribute::default();
            e.get_from(&m).unwrap();
            assert!(e.code == ErrorCode(code), "{want}: {}", e.code.0);
        }
    }

    #[test]
    fn garbage_is_ignored_not_answered() {
        let (responder, mut checker) = pair();
        let from: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        for junk in [&[0u8, 1, 0, 0][..], &[1; 40], &[]] {
            assert!(
                matches!(responder.answer(junk, from), Reply::Ignore(_)),
                "{junk:?}"
            );
            assert!(checker.on_response(junk).is_err());
        }
    }
}
