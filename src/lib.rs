//! # netlab — network programming, one layer at a time
//!
//! The reading map: each section of the course, the module that implements it, and the lab
//! that goes with it. Read top to bottom; every layer traces its steps with [`trace`].
//!
//! | lecture section | module | lab |
//! |---|---|---|
//! | \[L4\] socket programming: echo server and client | [`l4::conn`], [`l4::echo`] | `labs/01-echo-handler` |
//! | \[L4\] viewing socket state (netstat -an) | [`l4::sockets`] | `labs/02-socket-states` |
//! | \[L4\] a port already LISTENING | [`l4::port`] | — |
//! | \[L7\] HTTP semantics for every version: messages, fields, status codes, the rules every version shares (no body for 1xx/204/304/HEAD, response fields, preloads) | [`http::message`], [`http::fields`], [`http::status`], [`http::response_fields`], [`http::link`] | — |
//! | \[L7\] HTTP/1.1 on the wire: the parser and emitter, framing, chunked bodies | [`http1::parse`], [`http1::head`], [`http1::framing`], [`http1::chunked`] | `labs/03-chunked` |
//! | \[L7\] methods, status codes, the handler API and the server | [`http::handler`], [`http::router`], [`http1::server`] | `labs/04-handler` |
//! | \[L7\] the same server as poll(2) loops: what a thread per connection costs | [`http1::event_loop`] | `labs/11-poll-loop` |
//! | \[L7\] media types, URIs | [`http::media`], [`http::uri`] | — |
//! | \[L7\] SOAP/XML vs REST/JSON; monolith vs microservices | [`http::services`] | `labs/05-rest-soap` |
//! | \[L7\] TLS and certificates for localhost; a second visit resumed with a ticket | [`tls`], [`tls::certs`], [`tls::resumption`] | — |
//! | \[L7\] the client and the proxy | [`http1::client`], [`http1::proxy`] | — |
//! | \[L7\] ZeroMQ patterns: REQ/REP, PUB/SUB, PUSH/PULL, ROUTER/DEALER, Lazy Pirate | [`zmq`] ([`zmq::reqrep`], [`zmq::pubsub`], [`zmq::pipeline`], [`zmq::broker`], [`zmq::pirate`]) | `labs/06-zmq-kv` |
//! | \[L7\] ZeroMQ on the wire: ZMTP 3.x, seen through a relay | [`zmq::zmtp`], [`zmq::zmtp_tap`], [`tap`] | — |
//! | \[L7\] HTTP/2: binary frames, HPACK, multiplexing, push | [`http2::frame`], [`http2::hpack`], [`http2::server`], [`http2::client`] | `labs/07-hpack` |
//! | \[L7\] gRPC: protobuf calls on HTTP/2, next to REST | [`grpc::exchange`], [`grpc::wire`], [`grpc::server`], [`grpc::client`] | `labs/08-grpc-method` |
//! | \[L7\] HTTP/3 over QUIC: the loop that drives quiche, packet headers, Retry | [`quic::server`], [`quic::client`] (the step lab 09 plugs into: [`quic::client::Wire`]), [`quic::udp`], [`quic::packet`], [`quic::token`], [`quic::h3`] | `labs/09-quic-loop` |
//! | \[L7\] HTTP/3's second visit: resumption, 0-RTT, and what may be answered from it | [`quic::early`] (the policy lab 12 replaces: `quic::server::Config::early_policy`), [`quic::client`] (`Options::session`) | `labs/12-early-data` |
//! | \[L7\] advertising HTTP/3 from TCP: Alt-Svc | [`http::alt_svc`] | — |
//! | a lossy, delayed or rebinding UDP path in user space: the one UDP relay | [`l4::udp_relay`] | `labs/09-quic-loop` |
//! | \[L7\] WebRTC: SDP, ICE-lite, DTLS, SCTP and DCEP; a data channel to a browser | [`webrtc::sdp`], [`webrtc::signaling`], [`webrtc::demux`], [`webrtc::ice`], [`webrtc::dtls`], [`webrtc::socket`], [`webrtc::sctp`], `webrtc/channel.rs`, [`webrtc::dcep`], [`webrtc::peer`] | `labs/10-dcep` |
//! | \[L7\] WebRTC: what channel users ask for: partial reliability on a lossy path, closing by stream reset, the peer's largest message | [`webrtc::partial`], `webrtc/channel.rs`, [`webrtc::peer`] | — |
//! | \[L7\] WebRTC: ICE's arithmetic, which candidate pair is tried first and which one is nominated | [`webrtc::ice::priority`] (the policy lab 13 replaces) | `labs/13-ice-pairs` |
//! | \[L7\] WebRTC: STUN and TURN servers, why P2P works behind NATs | [`webrtc::stun_codec`], [`webrtc::stun_server`], [`webrtc::turn`] | — |
//! | NAT traversal on one machine: homes behind nftables NATs in namespaces, what kind of NAT (RFC 5780) | [`l4::netns`], [`webrtc::behavior`] | — |
//! | the summary: one exchange over every transport; head-of-line blocking on a lossy path; a new client address mid-download | [`compare`] ([`compare::transport`], [`compare::exchange`], [`compare::path`], [`compare::hol`], [`compare::rebind`]) | — |
//! | the guided tour of every exchange | [`tour`], [`guide`] | — |
//! | a handler's panic as one line, not a crash | [`catch`] | — |
//! | Ctrl-C or `kill` still cleans up (the tour's temp dirs, `netlab nat`'s namespaces) | [`signals`] | — |
//! | hostile clients: RFC 9113's own codes before `h2`; one address cannot take every place | [`http2::guard`], [`l4::share`], [`quic::handshakes`] | — |
//! | stepping through one exchange in a debugger (`make debug STEP=…`, `--serial`) | [`l4::accept`], docs/debugging.md | `make serve LAB=NN` |
//!
//! These are the layers that exist: L4, ZeroMQ, HTTP/1.1 with TLS and the proxy, HTTP/2,
//! gRPC, HTTP/3 over QUIC and WebRTC data channels, and the comparison of them all
//! ([`compare`]). The README holds the full course map.

pub mod catch;
pub mod compare;
pub mod grpc;
pub mod guide;
pub mod http;
pub mod http1;
pub mod http2;
pub mod l4;
pub mod quic;
pub mod signals;
pub mod tap;
pub mod tls;
pub mod tour;
pub mod trace;
pub mod webrtc;
pub mod zmq;
