//! A STUN server (RFC 8489 §6.3): it answers Binding Requests with the address it saw them
//! come from (XOR-MAPPED-ADDRESS), so that a client behind a NAT learns its public address,
//! its *server-reflexive* candidate (RFC 8445 §5.1.1.2). It keeps no state: one datagram in,
//! at most one datagram out.
//!
//! [`answer`] is the whole protocol, without I/O; [`serve`] is the loop around a blocking
//! socket:
//!
//! 1. wait for a datagram;
//! 2. decode it ([`answer`]): garbage and anything that is not a request is dropped (RFC 8489
//!    §6.3: indications and responses get no answer), a request for another method gets 400,
//!    an attribute we must understand but do not gets 420 with UNKNOWN-ATTRIBUTES (§6.3.1.1);
//! 3. send the answer: Binding Success with XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};

use stun::attributes::{
    ATTR_MESSAGE_INTEGRITY, ATTR_MESSAGE_INTEGRITY_SHA256, ATTR_NONCE, ATTR_PRIORITY, ATTR_REALM,
    ATTR_USE_CANDIDATE, ATTR_USERNAME, AttrType,
};
use stun::error_code::{CODE_BAD_REQUEST, CODE_UNKNOWN_ATTRIBUTE, ErrorCode, ErrorCodeAttribute};
use stun::message::{BINDING_SUCCESS, CLASS_REQUEST, METHOD_BINDING, Message, MessageType};
use stun::textattrs::TextAttribute;
use stun::uattrs::UnknownAttributes;
use stun::xoraddr::XorMappedAddress;

use super::stun_codec::{self, CodecError};
use crate::l4::background::{Background, Wake};
use crate::trace::{self, Layer};

/// SOFTWARE (RFC 8489 §14.14): who answered, for the other side's logs.
pub const SOFTWARE: &str = "netlab";

/// Comprehension-required attributes (type below 0x8000, §14) a Binding Request may carry that
/// this server knows: credentials (it needs none and ignores them) and ICE's (RFC 8445 §16.1).
const KNOWN: [AttrType; 7] = [
    ATTR_USERNAME,
    ATTR_MESSAGE_INTEGRITY,
    ATTR_MESSAGE_INTEGRITY_SHA256,
    ATTR_REALM,
    ATTR_NONCE,
    ATTR_PRIORITY,
    ATTR_USE_CANDIDATE,
];

/// What the server does with one datagram.
#[derive(Debug)]
pub enum Answer {
    /// A Binding Request: send `response` back; `mapped` is the address it carries.
    Success {
        response: Vec<u8>,
        mapped: SocketAddr,
    },
    /// A request that gets an error response.
    Error {
        response: Vec<u8>,
        code: u16,
        why: String,
    },
    /// Nothing to send: garbage, a response, an indication.
    Drop(String),
}

/// The comprehension-required attributes of `m` not in `known` (RFC 8489 §6.3.1.1: "the
/// server MUST … reject the request with an error response … 420 (Unknown Attribute)").
pub fn unknown_required(m: &Message, known: &[AttrType]) -> Vec<AttrType> {
    let mut unknown: Vec<AttrType> = m
        .attributes
        .0
        .iter()
        .map(|a| a.typ)
        .filter(|t| t.required() && !known.contains(t))
        .collect();
    unknown.dedup();
    unknown
}

/// An error response of type `typ` for `req`: ERROR-CODE, then UNKNOWN-ATTRIBUTES if any.
pub fn error_response(
    typ: MessageType,
    req: &Message,
    code: u16,
    reason: &str,
    unknown: &[AttrType],
) -> Result<Vec<u8>, CodecError> {
    let err = ErrorCodeAttribute {
        code: ErrorCode(code),
        reason: reason.as_bytes().to_vec(),
    };
    let uattrs = UnknownAttributes(unknown.to_vec());
    let software = TextAttribute::new(stun::attributes::ATTR_SOFTWARE, SOFTWARE.into());
    let mut setters: Vec<&dyn stun::message::Setter> = vec![&err];
    if !unknown.is_empty() {
        setters.push(&uattrs);
    }
    setters.push(&software);
    stun_codec::build(typ, req.transaction_id, &[], &setters, None)
}

/// A Binding Success for `req`: XOR-MAPPED-ADDRESS = `from`, SOFTWARE, FINGERPRINT.
pub fn binding_success(req: &Message, from: SocketAddr) -> Result<Vec<u8>, CodecError> {
    let mapped = XorMappedAddress {
        ip: from.ip(),
        port: from.port(),
    };
    let software = TextAttribute::new(stun::attributes::ATTR_SOFTWARE, SOFTWARE.into());
    stun_codec::build(
        BINDING_SUCCESS,
        req.transaction_id,
        &[],
        &[&mapped, &software],
        None,
    )
}

/// Step 2: what to answer to `datagram`, received from `from`.
pub fn answer(datagram: &[u8], from: SocketAddr) -> Answer {
    let req = match stun_codec::decode(datagram, false) {
        Ok(m) => m,
        Err(e) => return Answer::Drop(e.to_string()),
    };
    if req.typ.class != CLASS_REQUEST {
        return Answer::Drop(format!(
            "a {}, not a request: no answer (RFC 8489 §6.3)",
            req.typ
        ));
    }
    let refuse = |code: u16, why: String, unknown: &[AttrType]| {
        let typ = MessageType::new(req.typ.method, stun::message::CLASS_ERROR_RESPONSE);
        match error_response(typ, &req, code, &why, unknown) {
            Ok(response) => Answer::Error {
                response,
                code,
                why,
            },
            Err(e) => Answer::Drop(e.to_string()),
        }
    };
    if req.typ.method != METHOD_BINDING {
        let why = format!("method {} is not Binding", req.typ.method);
        return refuse(CODE_BAD_REQUEST.0, why, &[]);
    }
    let unknown = unknown_required(&req, &KNOWN);
    if !unknown.is_empty() {
        let why = format!("unknown comprehension-required attributes {unknown:?}");
        return refuse(CODE_UNKNOWN_ATTRIBUTE.0, why, &unknown);
    }
    match binding_success(&req, from) {
        Ok(response) => Answer::Success {
            response,
            mapped: from,
        },
        Err(e) => Answer::Drop(e.to_string()),
    }
}

/// Steps 2–3 for one datagram, traced: what came, what went back.
pub fn reply(socket: &UdpSocket, datagram: &[u8], from: SocketAddr) {
    match answer(datagram, from) {
        Answer::Success { response, mapped } => {
            trace::received(Layer::Stun, || format!("Binding Request from {from}"));
            trace::sent(Layer::Stun, || {
                format!("Binding Success XOR-MAPPED-ADDRESS={mapped}")
            });
            send(socket, &response, from);
        }
        Answer::Error {
            response,
            code,
            why,
        } => {
            trace::received(Layer::Stun, || format!("request from {from}: {why}"));
            trace::sent(Layer::Stun, || format!("Binding Error {code} to {from}"));
            send(socket, &response, from);
        }
        Answer::Drop(why) => {
            trace::received(Layer::Stun, || {
                format!("{} bytes from {from} dropped: {why}", datagram.len())
            });
        }
    }
}

fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to) {
        trace::event(Layer::Stun, || format!("send_to {to} failed: {e}"));
    }
}

/// Serves STUN on `socket` until `stop` is set (and an empty datagram wakes the loop).
pub fn serve(socket: &UdpSocket, stop: &AtomicBool) -> io::Result<()> {
    let local = socket.local_addr()?;
    trace::event(Layer::Stun, || format!("STUN server on UDP {local}"));
    let mut buf = vec![0u8; 65535];
    loop {
        // 1. Wait for a datagram.
        let got = socket.recv_from(&mut buf);
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        match got {
            // An empty datagram is no STUN message: the wake-up of `spawn`'s stop, or noise.
            Ok((0, _)) => {}
            // 2. and 3. Decode, answer.
            Ok((n, from)) => reply(socket, &buf[..n], from),
            Err(e) => trace::event(Layer::Stun, || format!("recv_from failed: {e}")),
        }
    }
}

/// Serves STUN in a background thread of this process (tests, the NAT tour).
pub fn spawn(socket: UdpSocket) -> io::Result<Background> {
    let addr = crate::quic::udp::reachable(socket.local_addr()?);
    let role = trace::current_role();
    Background::start(
        format!("stun server {addr}"),
        addr,
        Wake::Udp,
        move |stop| {
            let _role = role.map(trace::role);
            if let Err(e) = serve(&socket, &stop) {
                trace::event(Layer::Stun, || format!("server stopped: {e}"));
            }
        },
    )
}
