#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, fuzz/corpus/<target>/, from real implementations.

Run once with the peers' virtualenv (`.venv/bin/python scripts/fuzz-seeds.py`); the output
is committed, so `make fuzz` does not need it. Where a peer produces the bytes, they are its
own: curl's requests and Python's http.server responses (over loopback), the `h2` and `hpack`
packages' frames and header blocks, pyzmq's ZMTP through a recording relay (loopback),
aioquic's datagrams from an in-memory handshake, aioice's STUN checks, aiortc's SDP offer and
candidate lines (and aioice's), `netlab turn serve`'s answers over loopback (NETLAB=binary).
Python's email.utils writes the HTTP dates, its base64 module the base64 seeds. SCTP
packets, DCEP messages and gRPC framing are written here by their RFC's layout (no
peer in the virtualenv writes them without a whole association), from the sizes and values
aiortc and grpcio use. Retry tokens have no seed: only netlab mints them, and the target
mints its own. Each target gets a few files, named after what they hold.
"""

import asyncio
import datetime
import http.server
import os
import socket
import struct
import subprocess
import sys
import threading

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus")


def save(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def recv_all(sock):
    sock.settimeout(2)
    out = b""
    while True:
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return out
        if not b:
            return out
        out += b


def http1():
    """curl's requests (GET, chunked POST) and http.server's response, over loopback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    runs = [
        ("curl-get", ["curl", "-s", "-m", "2", f"http://127.0.0.1:{port}/notes?x=1&y=%20", "-H", "Accept: text/html"]),
        ("curl-post-chunked", ["curl", "-s", "-m", "2", f"http://127.0.0.1:{port}/echo", "-H", "Transfer-Encoding: chunked", "--data-binary", "hello, chunked world"]),
    ]
    for name, cmd in runs:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        conn, _ = listener.accept()
        conn.settimeout(1)
        req = b""
        try:
            while True:
                b = conn.recv(65536)
                if not b:
                    break
                req += b
                if req.endswith(b"0\r\n\r\n") or (b"\r\n\r\n" in req and b"chunked" not in req):
                    break
        except socket.timeout:
            pass
        conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        conn.close()
        p.wait()
        save("http1_parser", name, req)
    listener.close()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s = socket.create_connection(server.server_address)
    s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    save("http1_parser", "http-server-404", recv_all(s))
    s.close()
    server.shutdown()
    save("http1_parser", "chunked-body", b"7\r\nMozilla\r\n9;ext=1\r\nDeveloper\r\n0\r\nExpires: never\r\n\r\n")


def uri_media():
    for i, u in enumerate(["http://127.0.0.1:8080/notes?id=1#top", "https://[::1]:8443/a%20b", "HTTPS://example.com"]):
        save("uri", f"url-{i}", u)
    for i, m in enumerate(["text/html; charset=utf-8", "application/grpc+proto", 'multipart/form-data; boundary="a b"; charset=UTF-8']):
        save("media", f"type-{i}", m)


REQUEST = [(":method", "GET"), (":scheme", "https"), (":authority", "127.0.0.1:8443"), (":path", "/notes"),
           ("user-agent", "curl/8.5.0"), ("accept", "*/*")]
RESPONSE = [(":status", "200"), ("content-type", "text/html; charset=utf-8"), ("content-length", "1234"),
            ("set-cookie", "a=b; Path=/; HttpOnly")]


def hpack_blocks():
    import hpack
    e = hpack.Encoder()
    save("hpack", "request-huffman", e.encode(REQUEST))
    save("hpack", "request-again-indexed", e.encode(REQUEST))
    e = hpack.Encoder()
    save("hpack", "response-plain", e.encode(RESPONSE, huffman=False))
    e.header_table_size = 256
    save("hpack", "size-update-then-response", e.encode(RESPONSE + [("secret", "x", True)]))


def h2_frames():
    import h2.config
    import h2.connection
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    client.send_headers(1, REQUEST + [("content-type", "application/grpc")])
    client.send_data(1, b"\x00\x00\x00\x00\x05hello", end_stream=True)
    client.ping(b"12345678")
    up = client.data_to_send()
    server.initiate_connection()
    server.receive_data(up)
    server.send_headers(1, RESPONSE)
    server.send_data(1, b"<h1>notes</h1>", pad_length=4)
    server.send_headers(1, [("grpc-status", "0")], end_stream=True)
    server.increment_flow_control_window(65535)
    server.close_connection(error_code=0, additional_data=b"bye")
    down = server.data_to_send()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    save("h2_frame", "h2-client", up[len(preface):])
    save("h2_frame", "h2-server", down)
    save("grpc_wire", "two-messages", b"\x00\x00\x00\x00\x05hello" + b"\x00\x00\x00\x00\x00")


def zmtp():
    """pyzmq REQ → recording relay → pyzmq REP, over loopback: each direction's bytes."""
    import zmq
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep_port = rep.bind_to_random_port("tcp://127.0.0.1")
    relay = socket.socket()
    relay.bind(("127.0.0.1", 0))
    relay.listen()
    relay_port = relay.getsockname()[1]
    streams = {"client": b"", "server": b""}

    def pump(src, dst, key):
        src.settimeout(1.5)
        while True:
            try:
                b = src.recv(65536)
            except (socket.timeout, OSError):
                return
            if not b:
                return
            streams[key] += b
            dst.sendall(b)

    def accept():
        c, _ = relay.accept()
        s = socket.create_connection(("127.0.0.1", rep_port))
        t = threading.Thread(target=pump, args=(s, c, "server"))
        t.start()
        pump(c, s, "client")
        t.join()

    relay_thread = threading.Thread(target=accept)
    relay_thread.start()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.ROUTING_ID, b"netlab")
    req.connect(f"tcp://127.0.0.1:{relay_port}")
    req.send_multipart([b"hello", b"x" * 300])
    rep.send_multipart(rep.recv_multipart())
    req.recv_multipart()
    relay_thread.join()
    req.close(0)
    rep.close(0)
    ctx.term()
    save("zmtp", "req-to-rep", streams["client"])
    save("zmtp", "rep-to-req", streams["server"])
    # A PUB subscription command as ZMTP 3.1 writes it (RFC 37: SUBSCRIBE).
    save("zmtp", "subscribe", b"\x04\x0a\x09SUBSCRIBEnews")


def quic():
    """aioquic client and server, handshake in memory: the datagrams each side sends."""
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cc = QuicConfiguration(is_client=True, alpn_protocols=["h3"], verify_mode=0)
    sc = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    sc.certificate, sc.private_key = cert, key
    client = QuicConnection(configuration=cc)
    server = QuicConnection(configuration=sc, original_destination_connection_id=client.original_destination_connection_id)
    caddr, saddr = ("127.0.0.1", 1234), ("127.0.0.1", 4433)
    client.connect(saddr, now=0.0)
    seen = []
    t = 0.0
    for _ in range(6):
        t += 0.01
        for d, _ in client.datagrams_to_send(now=t):
            seen.append(("client", d))
            server.receive_datagram(d, caddr, now=t)
        for d, _ in server.datagrams_to_send(now=t):
            seen.append(("server", d))
            client.receive_datagram(d, saddr, now=t)
    kept = {}
    for who, d in seen:
        kind = "short" if d[0] & 0x80 == 0 else "long%x" % ((d[0] >> 4) & 3)
        kept.setdefault(f"{who}-{kind}", d)
    for n, d in kept.items():
        # The target's first byte is the short-header connection ID length (aioquic: 8).
        save("quic_packet", "aioquic-" + n, bytes([8]) + d)


def stun():
    from aioice import stun as s
    m = s.Message(s.Method.BINDING, s.Class.REQUEST, transaction_id=b"netlab-seed1")
    m.attributes["USERNAME"] = "remoteuf:localuf"
    m.attributes["PRIORITY"] = 1853824767
    m.attributes["ICE-CONTROLLING"] = 0x1122334455667788
    m.attributes["USE-CANDIDATE"] = None
    m.add_message_integrity(b"remote-password-22-chars")
    m.add_fingerprint()
    save("stun", "aioice-binding-request", bytes(m))
    r = s.Message(s.Method.BINDING, s.Class.RESPONSE, transaction_id=b"netlab-seed1")
    r.attributes["XOR-MAPPED-ADDRESS"] = ("127.0.0.1", 50000)
    r.add_message_integrity(b"remote-password-22-chars")
    r.add_fingerprint()
    save("stun", "aioice-binding-success", bytes(r))
    # The NAT probe reads the same kind of answer (its own transaction id is bytes 8..20).
    save("nat_probe", "aioice-binding-success", bytes(r))


def sdp():
    from aiortc import RTCPeerConnection

    async def offer():
        pc = RTCPeerConnection()
        pc.createDataChannel("chat")
        await pc.setLocalDescription(await pc.createOffer())
        text = pc.localDescription.sdp
        await pc.close()
        return text

    save("sdp", "aiortc-offer", asyncio.run(offer()))
    src = open(os.path.join(os.path.dirname(ROOT), "..", "src", "webrtc", "sdp.rs")).read()
    start = src.index('const CHROME_OFFER: &str = "') + len('const CHROME_OFFER: &str = "')
    text = src[start:src.index('";', start)].replace("\\r", "\r").replace("\\n", "\n")
    save("sdp", "chrome-offer", text)


def ice_candidate():
    """aiortc's gathered candidate lines (its offer over this machine's interfaces), aioice's
    srflx and relay lines with their related address, and the Chromium line netlab's own
    test of `Candidate::parse` holds (src/webrtc/ice/candidate.rs)."""
    from aioice import Candidate
    from aiortc import RTCPeerConnection

    async def offer():
        pc = RTCPeerConnection()
        pc.createDataChannel("chat")
        await pc.setLocalDescription(await pc.createOffer())
        text = pc.localDescription.sdp
        await pc.close()
        return text

    lines = [l for l in asyncio.run(offer()).splitlines() if l.startswith("a=candidate:")]
    for n, line in enumerate(lines[:3]):
        save("ice_candidate", f"aiortc-host-{n}", line)
    for kind, host in [("srflx", "203.0.113.7"), ("relay", "198.51.100.1")]:
        c = Candidate(foundation="5a9f0e4c2b7d", component=1, transport="udp", priority=1677729535,
                      host=host, port=50000, type=kind, related_address="192.168.1.2", related_port=41840)
        save("ice_candidate", f"aioice-{kind}", "a=candidate:" + c.to_sdp())
    src = open(os.path.join(os.path.dirname(ROOT), "..", "src", "webrtc", "ice", "candidate.rs")).read()
    start = src.index('let line = "') + len('let line = "')
    save("ice_candidate", "chromium-srflx", src[start:src.index('";', start)])


def sctp_dcep():
    def chunk(ty, flags, value):
        c = struct.pack("!BBH", ty, flags, 4 + len(value)) + value
        return c + b"\0" * (-len(c) % 4)

    def packet(*chunks):
        # Ports 5000/5000, a verification tag, the CRC32c left zero (the trace does not check it).
        return struct.pack("!HHII", 5000, 5000, 0x1234, 0) + b"".join(chunks)

    label, proto = b"chat", b""
    open_msg = struct.pack("!BBHIHH", 0x03, 0x00, 256, 0, len(label), len(proto)) + label + proto
    save("dcep", "open-reliable", open_msg)
    save("dcep", "open-unordered-rexmit", struct.pack("!BBHIHH", 0x03, 0x81, 0, 3, 4, 3) + b"filebin")
    save("dcep", "ack", b"\x02")
    init = struct.pack("!IIHHI", 0xCAFE, 131072, 65535, 65535, 1)
    save("sctp_chunk", "init", packet(chunk(1, 0, init)))
    data = struct.pack("!IHHI", 1, 0, 0, 50) + open_msg
    save("sctp_chunk", "data-dcep-open", packet(chunk(0, 0x03, data)))
    first = struct.pack("!IHHI", 2, 0, 1, 51) + b"a" * 100
    last = struct.pack("!IHHI", 3, 0, 1, 51) + b"b" * 50
    sack = struct.pack("!IIHH", 3, 131072, 0, 0)
    save("sctp_chunk", "fragments-and-sack", packet(chunk(0, 0x02, first), chunk(0, 0x01, last), chunk(3, 0, sack)))
    # A data channel closing (RFC 8831 §6.7): RE-CONFIG (RFC 6525) with an Outgoing SSN Reset
    # Request for stream 1, then the answer carrying its own request and the Response.
    def param(ty, value):
        return struct.pack("!HH", ty, 4 + len(value)) + value + b"\0" * (-len(value) % 4)

    reset = param(13, struct.pack("!IIIH", 0xCAFE, 0xBEEF, 60, 1))
    response = param(16, struct.pack("!II", 0xCAFE, 1))
    save("sctp_chunk", "reconfig-reset", packet(chunk(130, 0, reset)))
    save("sctp_chunk", "reconfig-reset-and-response", packet(chunk(130, 0, param(13, struct.pack("!IIIH", 0xBEEF, 0xCAFE, 61, 1)) + response)))


def turn():
    """`netlab turn serve`'s answers, over loopback: the 401 challenge to an Allocate
    without credentials, the signed Allocate success, the CreatePermission success and the
    Data indication a peer's datagram becomes. NETLAB names the binary (default
    target/debug/netlab). The raw bytes reach the client's decoder; the target answers the
    client's own requests itself (their transaction ids are random)."""
    import hashlib
    from aioice import stun as s
    netlab = os.environ.get("NETLAB", os.path.join(os.path.dirname(ROOT), "..", "target", "debug", "netlab"))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen([netlab, "turn", "serve", "--addr", f"127.0.0.1:{port}", "--user", "ana:s3cret",
                               "--allow", "127.0.0.0/8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    try:
        def ask(m, key=None):
            m.attributes["SOFTWARE"] = "netlab seeds"
            if key:
                m.add_message_integrity(key)
            m.add_fingerprint()
            for _ in range(20):
                sock.sendto(bytes(m), ("127.0.0.1", port))
                try:
                    return sock.recv(65535)
                except socket.timeout:
                    continue
            raise RuntimeError("netlab turn serve did not answer")

        m = s.Message(s.Method.ALLOCATE, s.Class.REQUEST)
        m.attributes["REQUESTED-TRANSPORT"] = 17 << 24
        challenge = ask(m)
        save("turn_client", "netlab-allocate-401", challenge)
        c = s.parse_message(challenge)
        realm, nonce = c.attributes["REALM"], c.attributes["NONCE"]
        key = hashlib.md5(f"ana:{realm}:s3cret".encode()).digest()

        def signed(method):
            m = s.Message(method, s.Class.REQUEST)
            m.attributes["USERNAME"] = "ana"
            m.attributes["REALM"] = realm
            m.attributes["NONCE"] = nonce
            return m

        m = signed(s.Method.ALLOCATE)
        m.attributes["REQUESTED-TRANSPORT"] = 17 << 24
        success = ask(m, key)
        save("turn_client", "netlab-allocate-success", success)
        relayed = s.parse_message(success).attributes["XOR-RELAYED-ADDRESS"]
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        m = signed(s.Method.CREATE_PERMISSION)
        m.attributes["XOR-PEER-ADDRESS"] = peer.getsockname()
        save("turn_client", "netlab-permission-success", ask(m, key))
        peer.sendto(b"hello through the relay", tuple(relayed))
        save("turn_client", "netlab-data-indication", sock.recv(65535))
        peer.close()
    finally:
        server.terminate()
        server.wait()
        sock.close()


def dates_base64():
    """Python's own IMF-fixdate (email.utils, as http.server sends Date) and base64."""
    import base64
    import email.utils
    save("date", "python-formatdate", email.utils.formatdate(784111777, usegmt=True))
    save("date", "leap-day", email.utils.formatdate(951782400, usegmt=True))
    for n in range(3):
        save("base64", f"python-b64-{n}", base64.b64encode(b"netlab"[: 4 + n]))


def soap():
    ns = 'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="urn:netlab:notes"'
    for op, inner in [("CreateNote", "<n:text>by SOAP &amp; more</n:text>"), ("GetNote", "<n:id> 1 </n:id>"),
                      ("ListNotes", "")]:
        save("soap", op, f'<?xml version="1.0"?><soap:Envelope {ns}><soap:Body><n:{op}>{inner}</n:{op}></soap:Body></soap:Envelope>')


if __name__ == "__main__":
    steps = [http1, uri_media, hpack_blocks, h2_frames, zmtp, quic, stun, sdp, ice_candidate, sctp_dcep, turn,
             dates_base64, soap]
    for step in steps:
        if len(sys.argv) > 1 and step.__name__ not in sys.argv[1:]:
            continue
        step()
        print("seeds:", step.__name__)
