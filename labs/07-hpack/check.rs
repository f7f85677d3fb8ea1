//! Lab 07 check: your integer decoder and dynamic table, inside the given HPACK decoder
//! (`block.rs`), first on every example of RFC 7541 Appendix C, then on live traffic:
//! nghttp's own header blocks, captured on their way to netlab's HTTP/2 server. Run: `make check LAB=07`.

#[path = "block.rs"]
mod block;
#[path = "../common.rs"]
mod common;
#[path = "solution.rs"]
mod solution;
#[path = "table.rs"]
mod table;

common::wrong_solutions! {
    fn parts(m) -> Parts {
        Parts {
            integer: m::decode_integer,
            table: |max| Box::new(m::Table::new(max)),
        }
    }
    student table, solution solution;
    mask_in_u8 fails [1]: "computes the mask (1 << N) - 1 in a u8, which overflows for N = 8";
    truncated_accepted fails [3]: "returns what it has when the bytes end mid-integer";
    no_plus_32 fails [4, 5, 6, 7, 8, 9, 10]: "counts an entry as name + value, without the 32 (§4.1)";
    oldest_first fails [5, 6, 7, 8, 9, 10, 12]: "numbers the entries oldest first (index 1 is the newest)";
    set_max_lazy fails [9]: "evicts only on the next insert after a size update (§4.3)";
    overflow_wraps fails [3]: "adds continuation bytes with wrapping arithmetic and no limit";
    evicts_newest fails [7, 8, 9]: "evicts from the front, the newest entry, instead of the oldest";
    evict_when_full fails [10]: "evicts while the size is >= the limit: a full table loses an entry";
    full_size_refused fails [10]: "refuses an entry exactly the maximum's size (§4.4 adds it)";
}

use block::{DecodeInteger, Decoder, Dynamic, Error, Field, How};
use common::{Check, show};
use netlab::http2::frame::{self, Frame, Header, PREFACE, flag, kind};
use netlab::l4::relay::{self, Observer, Side};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The two parts the student writes, from whichever file is checked.
#[derive(Clone, Copy)]
struct Parts {
    integer: DecodeInteger,
    table: fn(usize) -> Box<dyn Dynamic>,
}

impl Parts {
    fn decoder(&self, max: usize) -> Decoder {
        Decoder::new((self.table)(max), self.integer, max)
    }
}

/// Runs student code; a panic becomes an error message naming it.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("{what} panicked: {why} (return an Err instead, or fix the arithmetic)")
    })
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex in the check"))
        .collect()
}

fn hex_of(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One integer case: `bytes` from `start`, prefix N, the value, and where `at` must end.
fn integer_ok(
    p: Parts,
    bytes: &[u8],
    start: usize,
    n: u8,
    want: usize,
    what: &str,
) -> Result<(), String> {
    let mut at = start;
    let got = guarded(&format!("decode_integer({}, N={n})", hex_of(bytes)), || {
        (p.integer)(bytes, &mut at, n)
    })?;
    let end = start + want_len(bytes, start, n);
    match got {
        Ok(v) if v == want && at == end => Ok(()),
        Ok(v) => Err(format!(
            "{what}: bytes {} from offset {start} with a {n}-bit prefix: expected {want} with at = {end}, got {v} with at = {at}",
            hex_of(bytes)
        )),
        Err(e) => Err(format!(
            "{what}: bytes {} with a {n}-bit prefix: expected {want}, got Err({e:?}): {e}",
            hex_of(bytes)
        )),
    }
}

/// How many bytes a valid integer at `start` takes (the check's own reading of §5.1).
fn want_len(bytes: &[u8], start: usize, n: u8) -> usize {
    let max = (1u16 << n) - 1;
    if u16::from(bytes[start]) & max < max {
        return 1;
    }
    1 + bytes[start + 1..]
        .iter()
        .position(|b| b & 0x80 == 0)
        .map_or(bytes.len(), |i| i + 1)
}

fn integer_err(
    p: Parts,
    bytes: &[u8],
    n: u8,
    want: Option<Error>,
    why: &str,
) -> Result<(), String> {
    let mut at = 0;
    let got = guarded(&format!("decode_integer({}, N={n})", hex_of(bytes)), || {
        (p.integer)(bytes, &mut at, n)
    })?;
    match (got, want) {
        (Err(e), Some(w)) if e == w => Ok(()),
        (Err(_), None) => Ok(()),
        (Err(e), Some(w)) => Err(format!(
            "bytes {} with a {n}-bit prefix ({why}): expected Err({w:?}), got Err({e:?})\n      likely: {}",
            hex_of(bytes),
            if w == Error::Truncated {
                "the input ended while a byte's MSB said more follows: that is Truncated, whatever the value so far"
            } else {
                "the bytes end properly, but the value is too large for a usize: that is IntegerOverflow"
            }
        )),
        (Ok(v), w) => Err(format!(
            "bytes {} with a {n}-bit prefix ({why}): expected {}, got Ok({v})\n      likely: {}",
            hex_of(bytes),
            w.as_ref()
                .map_or("an error".to_string(), |w| format!("Err({w:?})")),
            match w {
                Some(Error::Truncated) =>
                    "the input ran out while a byte's MSB said more follows, and the loop returned what it had: running out there is Err(Truncated) (§5.1)",
                _ =>
                    "the value went past what a usize holds and wrapped: stop with Err(IntegerOverflow) after a few continuation bytes, before the shift reaches 64 (§5.1: \"exceeds implementation limits\")",
            }
        )),
    }
}

/// A field for messages: `name: "value"`.
fn field(name: &[u8], value: &[u8]) -> String {
    format!("{}: {}", String::from_utf8_lossy(name), show(value))
}

fn fields_of(got: &[Field]) -> Vec<(Vec<u8>, Vec<u8>)> {
    got.iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

fn listing(entries: &[(Vec<u8>, Vec<u8>)]) -> String {
    entries
        .iter()
        .map(|(n, v)| field(n, v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table as the RFC prints it after each example: `[1] (s = 42) :status: "307"`, ….
fn rfc_table(entries: &[(Vec<u8>, Vec<u8>)], size: usize) -> String {
    let mut out = String::new();
    for (i, (n, v)) in entries.iter().enumerate() {
        out += &format!(
            "\n        [{}] (s = {:3}) {}",
            i + 1,
            n.len() + v.len() + 32,
            field(n, v)
        );
    }
    if entries.is_empty() {
        out += "\n        (empty)";
    }
    out + &format!("\n        Table size: {size}")
}

/// What the student's table holds, read through `get` (1, 2, … until `None`, at most 64).
fn entries(t: &dyn Dynamic) -> Vec<(Vec<u8>, Vec<u8>)> {
    (1..=64)
        .map_while(|i| t.get(i).map(|(n, v)| (n.to_vec(), v.to_vec())))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    list.iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Compares the table with the RFC's, entries (via `get`), `len` and `size`.
fn table_is(t: &dyn Dynamic, after: &str, want: &[(&str, &str)]) -> Result<(), String> {
    let want = pairs(want);
    let want_size: usize = want.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
    let (got, len, size) = guarded("the table", || (entries(t), t.len(), t.size()))?;
    if got == want && len == want.len() && size != want_size {
        return Err(format!(
            "after {after} the entries are right, but size() is {size}, not {want_size}: an entry's size is name + value + 32 (§4.1){}",
            rfc_table(&want, want_size)
        ));
    }
    if got != want || len != want.len() || size != want_size {
        return Err(format!(
            "after {after} the dynamic table should be:{}\n      yours (get(1), get(2), …; len() = {len}):{}{}",
            rfc_table(&want, want_size),
            rfc_table(&got, size),
            likely_cause(&want, &got).map_or(String::new(), |c| format!("\n      likely: {c}"))
        ));
    }
    Ok(())
}

/// The mistake a wrong table most likely comes from, read off what it holds.
fn likely_cause(want: &[(Vec<u8>, Vec<u8>)], got: &[(Vec<u8>, Vec<u8>)]) -> Option<&'static str> {
    let reversed: Vec<_> = got.iter().rev().cloned().collect();
    if got.is_empty() {
        Some(
            "nothing is kept: does insert store the entry, newest first, and count its size? (an entry exactly the maximum's size is added too: §4.4, \"less than or equal to the maximum size\")",
        )
    } else if got.len() > 1 && reversed == want {
        Some("the order is reversed: get(1) is the entry inserted last (§2.3.3)")
    } else if got.len() < want.len() && want.starts_with(got) {
        Some(
            "older entries were evicted although they fit: evict only while the size is over (maximum − new entry's size), so a table exactly full keeps them all (§4.4)",
        )
    } else if got.len() > want.len() && got.starts_with(want) {
        Some(
            "entries that no longer fit are still there: evict the oldest until the size is at most the maximum, at once when the maximum shrinks (§4.3, §4.4)",
        )
    } else if got.first() == want.first() || want.is_empty() {
        None
    } else if got.len() <= want.len() && want[1..].starts_with(&got[got.len().min(1)..]) {
        Some(
            "the newest entry is missing: is the new entry added after evicting, and is eviction taking the oldest (the end of the table, §4.4)?",
        )
    } else if got.iter().skip(1).any(|e| Some(e) == want.first()) {
        Some(
            "the newest entry is not get(1): evict from the end (the oldest entries), and add the new one at the front (§2.3.3, §4.4)",
        )
    } else {
        None
    }
}

/// Decodes one block of an Appendix C example and compares the fields and the table.
fn example(
    d: &mut Decoder,
    name: &str,
    bytes: &str,
    fields: &[(&str, &str)],
    table: &[(&str, &str)],
) -> Result<(), String> {
    let block = hex(bytes);
    let got = guarded(&format!("decoding {name}"), || d.decode(&block))?
        .map_err(|e| format!("{name} ({}): decoding failed: {e}", show(&block)))?;
    let got = fields_of(&got);
    if got != pairs(fields) {
        return Err(format!(
            "{name}: expected the fields {}\n      got {}\n      likely: a field taken from the dynamic table is not the one the encoder put there: which entry did your table evict, and is get(1) the newest?",
            listing(&pairs(fields)),
            listing(&got)
        ));
    }
    guarded("the table", || table_is(d.table.as_ref(), name, table))?
}

// The examples of RFC 7541 Appendix C, with the dynamic table the RFC shows after each.
const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQ_T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const REQ_T2: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const REQ_T3: &[(&str, &str)] = &[
    ("custom-key", "custom-value"),
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const DATE1: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOC: &str = "https://www.example.com";
const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
/// C.2.1's literal with incremental indexing, `custom-key: custom-header` (10 + 13 + 32 = 55
/// bytes), and one as large with another value.
const C21: &str = "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572";
const ANOTHER: &str = "400a 6375 7374 6f6d 2d6b 6579 0d61 6e6f 7468 6572 2d76 616c 7565";
const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", DATE1),
    ("location", LOC),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", DATE1),
    ("location", LOC),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", DATE2),
    ("location", LOC),
    ("content-encoding", "gzip"),
    ("set-cookie", COOKIE),
];
const RESP_T1: &[(&str, &str)] = &[
    ("location", LOC),
    ("date", DATE1),
    ("cache-control", "private"),
    (":status", "302"),
];
const RESP_T2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", LOC),
    ("date", DATE1),
    ("cache-control", "private"),
];
const RESP_T3: &[(&str, &str)] = &[
    ("set-cookie", COOKIE),
    ("content-encoding", "gzip"),
    ("date", DATE2),
];

/// One example sequence of Appendix C: (name, hex, fields, table after).
type Sequence<'a> = [(
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a [(&'a str, &'a str)],
); 3];

fn sequence(p: Parts, max: usize, seq: &Sequence) -> Result<(), String> {
    let mut d = guarded("Table::new", || p.decoder(max))?;
    for (name, bytes, fields, table) in seq {
        example(&mut d, name, bytes, fields, table)?;
    }
    Ok(())
}

/// Captures what a client sends through a relay: the client→server bytes of one connection.
struct Capture(Mutex<Vec<u8>>);

impl Observer for Capture {
    fn bytes(&self, from: Side, bytes: &[u8]) {
        if from == Side::Client {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(bytes);
            }
        }
    }
    fn closed(&self, _: Side) {}
}

/// The header blocks a client sent (HEADERS + CONTINUATION joined), by stream.
fn header_blocks(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, String> {
    let rest = bytes
        .strip_prefix(PREFACE)
        .ok_or_else(|| format!("the client did not start with the preface: {}", show(bytes)))?;
    let mut at = 0;
    let mut blocks = Vec::new();
    let mut open: Option<(u32, Vec<u8>)> = None;
    while let Some(h) = Header::parse(&rest[at..]) {
        let end = at + frame::HEADER_LEN + h.length as usize;
        let Some(payload) = rest.get(at + frame::HEADER_LEN..end) else {
            break;
        };
        at = end;
        let piece = match frame::parse(&h, payload) {
            Ok(Frame::Headers { block, .. }) if h.kind == kind::HEADERS => block,
            Ok(Frame::Continuation(block)) => block,
            Ok(_) => continue,
            Err(e) => return Err(format!("a frame of the client does not parse: {e}")),
        };
        let (_, buf) = open.get_or_insert_with(|| (h.stream, Vec::new()));
        buf.extend_from_slice(piece);
        if h.flags & flag::END_HEADERS != 0 {
            blocks.extend(open.take());
        }
    }
    Ok(blocks)
}

/// Runs a client through a capturing relay in front of netlab's HTTP/2 server: `client` gets
/// the relay's address (`HOST:PORT`) and runs; returns the client's bytes and that address.
fn through_relay(
    server: SocketAddr,
    client: impl FnOnce(&str) -> Result<(), String>,
) -> Result<(Vec<u8>, String), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let relay_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let capture = Arc::new(Capture(Mutex::new(Vec::new())));
    let seen = capture.clone();
    let relay_thread = thread::spawn(move || {
        let (client, _) = listener.accept().ok()?;
        let upstream = TcpStream::connect(server).ok()?;
        relay::relay(client, upstream, Some(Duration::from_secs(15)), Some(seen));
        Some(())
    });
    let authority = relay_addr.to_string();
    let ran = client(&authority);
    if ran.is_err() {
        // Unblock the relay's accept, so its thread ends.
        let _ = TcpStream::connect(relay_addr);
    }
    let _ = relay_thread.join();
    ran?;
    let bytes = capture.0.lock().map(|b| b.clone()).unwrap_or_default();
    Ok((bytes, authority))
}

/// Runs nghttp with two URLs (one connection, two streams) through the capturing relay.
/// (curl 7.88.1, Debian 12's, fails the second request on a reused h2c connection with
/// "Error in the HTTP2 framing layer" whatever the server, so curl makes one request in its
/// own step; nghttp is built on the same nghttp2 library.)
fn nghttp_through_relay(server: SocketAddr, ua: &str) -> Result<(Vec<u8>, String), String> {
    through_relay(server, |authority| {
        let out = Command::new("nghttp")
            .args([
                "-n",
                "-s",
                "--timeout=10",
                "-H",
                &format!("user-agent: {ua}"),
                &format!("http://{authority}/"),
                &format!("http://{authority}/status/200"),
            ])
            .output()
            .map_err(|e| {
                format!("cannot run nghttp ({e}): run `make deps`, which installs it (Debian: nghttp2-client)")
            })?;
        // The statistics (-s): one line per stream, `id responseEnd requestStart process code size path`.
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let answered = |path: &str| {
            stdout.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() == 7 && w[6] == path && w[4] == "200"
            })
        };
        if !out.status.success() || !answered("/") || !answered("/status/200") {
            return Err(format!(
                "nghttp did not get a 200 for both / and /status/200: exit {:?}, stderr {}",
                out.status.code(),
                show(&out.stderr)
            ));
        }
        Ok(())
    })
}

/// Runs curl (prior knowledge, one request) through the capturing relay.
fn curl_through_relay(server: SocketAddr, ua: &str) -> Result<(Vec<u8>, String), String> {
    through_relay(server, |authority| {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "--http2-prior-knowledge",
                "-A",
                ua,
                &format!("http://{authority}/status/200"),
            ])
            .output()
            .map_err(|e| format!("cannot run curl ({e}): run `make deps`, which installs it"))?;
        if !out.status.success() || out.stdout != b"200 OK\n" {
            return Err(format!(
                "curl did not get 200 OK: exit {:?}, stderr {}",
                out.status.code(),
                show(&out.stderr)
            ));
        }
        Ok(())
    })
}

/// The field named `name` in a decoded block.
fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name == name.as_bytes())
}

fn expect_fields(fields: &[Field], want: &[(&str, &str)], which: &str) -> Result<(), String> {
    for (name, value) in want {
        match find(fields, name) {
            Some(f) if f.value == value.as_bytes() => {}
            Some(f) => {
                return Err(format!(
                    "{which}: {name} should be {}, your decoding gives {}\n      all fields: {}",
                    show(value),
                    show(&f.value),
                    listing(&fields_of(fields))
                ));
            }
            None => {
                return Err(format!(
                    "{which}: no {name} field (expected {})\n      all fields: {}",
                    show(value),
                    listing(&fields_of(fields))
                ));
            }
        }
    }
    Ok(())
}

/// What the first live step leaves the second: the decoder (its table filled), the blocks,
/// the authority, and the first request's fields.
type Live = (Decoder, Vec<(u32, Vec<u8>)>, String, Vec<Field>);

fn main() {
    let (mut check, subject) = Check::start(
        "07 (HPACK: integers and the dynamic table)",
        "labs/07-hpack/table.rs",
        WRONG,
        Duration::from_secs(30),
    );
    let p = parts(&subject);
    check.nothing_to_serve(
        "an integer decoder and a table, driven by the check",
        &[
            "make check LAB=07   (your code on RFC 7541's examples and live requests; NETLAB_NO_WATCHDOG=1 lifts the time limit)",
            "netlab's own HPACK decoder on live traffic: NETLAB_TRACE=hpack netlab h2 serve --h2c --addr 127.0.0.1:8080",
            "  then: nghttp -n http://127.0.0.1:8080/ http://127.0.0.1:8080/status/200   (the second request's fields come from the dynamic table)",
        ],
    );

    check.step(
        "C.1: integers with 5- and 8-bit prefixes (RFC 7541 C.1.1–C.1.3)",
        || {
            integer_ok(p, &[0x0a], 0, 5, 10, "C.1.1, 10 with a 5-bit prefix")?;
            integer_ok(
                p,
                &[0x1f, 0x9a, 0x0a],
                0,
                5,
                1337,
                "C.1.2, 1337 with a 5-bit prefix",
            )?;
            integer_ok(
                p,
                &[0x2a],
                0,
                8,
                42,
                "C.1.3, 42 starting at an octet boundary",
            )
        },
    );
    check.step(
        "integers at the prefix's edge: 2^N−1 takes a continuation byte, flags above the prefix are ignored, `at` ends after the last byte",
        || {
            let cases: &[(&[u8], usize, u8, usize, &str)] = &[
                (&[0x1e], 0, 5, 30, "2^5−2 fits in the prefix"),
                (&[0x1f, 0x00], 0, 5, 31, "2^5−1 exactly: all ones, then a 0 byte"),
                (&[0x1f, 0x01], 0, 5, 32, "2^5"),
                (&[0x7f, 0x00], 0, 7, 127, "2^7−1 exactly on a 7-bit prefix"),
                (&[0x7f, 0x80, 0x01], 0, 7, 255, "a continuation byte of 0 with its MSB set"),
                (&[0xea], 0, 5, 10, "0xea: the 3 bits above the prefix are flags"),
                (&[0xff, 0x7f], 0, 7, 254, "0xff: the H or index bit is not part of the value"),
                (&[0x3f, 0xe1, 0x1f], 0, 5, 4096, "4096, a table size update's value"),
                (&[0x01, 0x05], 0, 1, 6, "a 1-bit prefix"),
                (&[0xaa, 0xbb, 0x1f, 0x9a, 0x0a, 0xff], 2, 5, 1337, "starting at offset 2, followed by more bytes"),
            ];
            for (bytes, start, n, want, what) in cases {
                integer_ok(p, bytes, *start, *n, *want, what)?;
            }
            Ok(())
        },
    );
    check.step(
        "integers cut short or too large are errors (Truncated, IntegerOverflow), never a guess or a panic",
        || {
            integer_err(p, &[], 5, Some(Error::Truncated), "no bytes at all")?;
            integer_err(p, &[0x1f], 5, Some(Error::Truncated), "all ones, and nothing follows")?;
            integer_err(p, &[0x1f, 0x9a], 5, Some(Error::Truncated), "0x9a's MSB says more follows")?;
            integer_err(p, &[0x7f, 0xff, 0xff, 0x80], 7, Some(Error::Truncated), "every continuation byte says more")?;
            let huge = [&[0x1fu8][..], &[0xff; 10], &[0x01]].concat();
            integer_err(p, &huge, 5, Some(Error::IntegerOverflow), "over 2^64: 31 + 10 continuation bytes of all ones + 01")
        },
    );
    check.step(
        "C.2: the four field representations, one entry added (RFC 7541 C.2.1–C.2.4)",
        || {
            let mut d = guarded("Table::new", || p.decoder(4096))?;
            example(
                &mut d,
                "C.2.1 (literal with indexing)",
                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
                &[("custom-key", "custom-header")],
                &[("custom-key", "custom-header")],
            )?;
            let mut d = guarded("Table::new", || p.decoder(4096))?;
            example(
                &mut d,
                "C.2.2 (literal without indexing)",
                "040c 2f73 616d 706c 652f 7061 7468",
                &[(":path", "/sample/path")],
                &[],
            )?;
            example(
                &mut d,
                "C.2.3 (literal never indexed)",
                "1008 7061 7373 776f 7264 0673 6563 7265 74",
                &[("password", "secret")],
                &[],
            )?;
            example(
                &mut d,
                "C.2.4 (indexed, static)",
                "82",
                &[(":method", "GET")],
                &[],
            )
        },
    );
    check.step(
        "C.3: three requests on one connection, without Huffman (RFC 7541 C.3)",
        || {
            sequence(
                p,
                4096,
                &[
                    (
                        "C.3.1",
                        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                        REQ1,
                        REQ_T1,
                    ),
                    ("C.3.2", "8286 84be 5808 6e6f 2d63 6163 6865", REQ2, REQ_T2),
                    (
                        "C.3.3",
                        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                        REQ3,
                        REQ_T3,
                    ),
                ],
            )
        },
    );
    check.step(
        "C.4: the same requests, Huffman-coded (RFC 7541 C.4)",
        || {
            sequence(
                p,
                4096,
                &[
                    (
                        "C.4.1",
                        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                        REQ1,
                        REQ_T1,
                    ),
                    ("C.4.2", "8286 84be 5886 a8eb 1064 9cbf", REQ2, REQ_T2),
                    (
                        "C.4.3",
                        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                        REQ3,
                        REQ_T3,
                    ),
                ],
            )
        },
    );
    check.step("C.5: three responses in a 256-byte table: entries evicted to make room (RFC 7541 C.5, §4.4)", || {
        sequence(p, 256, &[
            ("C.5.1", "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
                2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
                6c65 2e63 6f6d", RESP1, RESP_T1),
            ("C.5.2", "4803 3330 37c1 c0bf", RESP2, RESP_T2),
            ("C.5.3", "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
                54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
                5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
                3d31", RESP3, RESP_T3),
        ])
    });
    check.step("C.6: the same responses, Huffman-coded (RFC 7541 C.6)", || {
        sequence(p, 256, &[
            ("C.6.1", "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 \
                82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", RESP1, RESP_T1),
            ("C.6.2", "4883 640e ffc1 c0bf", RESP2, RESP_T2),
            ("C.6.3", "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b \
                d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 \
                0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07", RESP3, RESP_T3),
        ])
    });
    check.step(
        "a smaller maximum evicts at once (§4.3); an entry larger than the table empties it (§4.4)",
        || {
            let mut d = guarded("Table::new", || p.decoder(4096))?;
            // Three requests' worth of entries, as in C.3.
            example(
                &mut d,
                "C.3.1",
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                REQ1,
                REQ_T1,
            )?;
            example(
                &mut d,
                "C.3.2",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                REQ2,
                REQ_T2,
            )?;
            example(
                &mut d,
                "C.3.3",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                REQ3,
                REQ_T3,
            )?;
            // 001 11111 + 69: a size update to 100 at the start of a block, then :method GET.
            example(
                &mut d,
                "a size update to 100 (hex 3f 45), then 82",
                "3f45 82",
                &[(":method", "GET")],
                &REQ_T3[..1],
            )?;
            // A size update to 0 empties the table: the encoder's way to flush it.
            example(&mut d, "a size update to 0 (hex 20)", "20", &[], &[])?;
            // Back to 100: one 55-byte entry fits, a second evicts the first.
            example(
                &mut d,
                "a size update to 100, then custom-key: custom-header (C.2.1)",
                "3f45 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
                &[("custom-key", "custom-header")],
                &[("custom-key", "custom-header")],
            )?;
            example(
                &mut d,
                "then cache-control: no-cache",
                "5808 6e6f 2d63 6163 6865",
                &[("cache-control", "no-cache")],
                &[("cache-control", "no-cache")],
            )?;
            // 13 + 70 + 32 = 115 > 100: not added, and the table is emptied.
            let big = format!("5846{}", hex_of(&[b'x'; 70]).replace(' ', ""));
            let x70 = "x".repeat(70);
            example(
                &mut d,
                "then cache-control with a 70-byte value (115 bytes > 100)",
                &big,
                &[("cache-control", &x70)],
                &[],
            )
        },
    );
    check.step(
        "a table exactly full keeps its entries; an entry exactly the maximum's size is added (§4.4)",
        || {
            // Two 55-byte entries in a 110-byte table: 110 is not over 110, nothing goes.
            let mut d = guarded("Table::new", || p.decoder(110))?;
            example(
                &mut d,
                "custom-key: custom-header (C.2.1, 55 bytes) into a 110-byte table",
                C21,
                &[("custom-key", "custom-header")],
                &[("custom-key", "custom-header")],
            )?;
            example(
                &mut d,
                "then custom-key: another-value (55 bytes: the table is now exactly full)",
                ANOTHER,
                &[("custom-key", "another-value")],
                &[("custom-key", "another-value"), ("custom-key", "custom-header")],
            )?;
            // A size update to the size it already has (31 + 79 = 110) evicts nothing.
            example(
                &mut d,
                "a size update to 110 (hex 3f 4f), the size the table has, then 82",
                "3f4f 82",
                &[(":method", "GET")],
                &[("custom-key", "another-value"), ("custom-key", "custom-header")],
            )?;
            // Down to 55 (31 + 24): the older entry goes; a 55-byte entry then fills the table.
            example(
                &mut d,
                "a size update to 55 (hex 3f 18), then custom-key: custom-header (55 bytes)",
                &format!("3f18 {C21}"),
                &[("custom-key", "custom-header")],
                &[("custom-key", "custom-header")],
            )
        },
    );

    // The live part: nghttp's header blocks on their way to netlab's server.
    let ua = format!("netlab-lab07/1.0 ({})", "hpack ".repeat(40).trim_end());
    let server = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| {
            let router = netlab::http::services::app::monolith(
                netlab::http::services::notes::Store::new(),
                None,
            );
            netlab::http2::server::spawn(
                l,
                Arc::new(router),
                netlab::http2::server::Config::default(),
                netlab::http2::server::Security::Cleartext,
            )
        })
        .unwrap_or_else(|e| {
            println!("cannot start netlab's HTTP/2 server: {e}");
            std::process::exit(1)
        });
    let mut live: Option<Live> = None;
    check.step(
        "nghttp's first request (captured on its way to netlab's h2c server), decoded with your code",
        || {
            let (bytes, authority) = nghttp_through_relay(server.addr(), &ua)?;
            let blocks = header_blocks(&bytes)?;
            if blocks.len() != 2 {
                return Err(format!(
                    "expected 2 header blocks from nghttp (two URLs, one connection), found {}",
                    blocks.len()
                ));
            }
            let mut d = guarded("Table::new", || p.decoder(4096))?;
            let fields = guarded("decoding nghttp's first block", || d.decode(&blocks[0].1))?
                .map_err(|e| format!("nghttp's first header block ({}): {e}", show(&blocks[0].1)))?;
            expect_fields(
                &fields,
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/"),
                    (":authority", &authority),
                    ("user-agent", &ua),
                ],
                &format!("stream {}", blocks[0].0),
            )?;
            live = Some((d, blocks, authority, fields));
            Ok(())
        },
    );
    check.step(
        "nghttp's second request on the same connection: its repeated fields come from your dynamic table",
        || {
            let Some((mut d, blocks, authority, first)) = live.take() else {
                return Err("no first request decoded (see the step before)".into());
            };
            let fields = guarded("decoding nghttp's second block", || d.decode(&blocks[1].1))?
                .map_err(|e| format!("nghttp's second header block ({}): {e}", show(&blocks[1].1)))?;
            expect_fields(
                &fields,
                &[
                    (":method", "GET"),
                    (":path", "/status/200"),
                    (":authority", &authority),
                    ("user-agent", &ua),
                ],
                &format!("stream {}", blocks[1].0),
            )?;
            for name in [":authority", "user-agent"] {
                match find(&fields, name).map(|f| f.how) {
                    Some(How::Indexed(i)) if i > 61 => {}
                    other => {
                        return Err(format!(
                            "nghttp sent {name} again as an index into the dynamic table (62 or more); your decoder saw {other:?}"
                        ));
                    }
                }
            }
            // The same client sends the same fields in the same order; only :path differs.
            let but_path = |l: &[Field]| -> Vec<(Vec<u8>, Vec<u8>)> {
                fields_of(l).into_iter().filter(|(n, _)| n != b":path").collect()
            };
            let (want, got) = (but_path(&first), but_path(&fields));
            if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
                let at = |l: &[(Vec<u8>, Vec<u8>)]| {
                    l.get(i).map_or("nothing".to_string(), |(n, v)| field(n, v))
                };
                return Err(format!(
                    "apart from :path, the second request repeats the first one's fields in order; field {} (not counting :path) should be {}, your table gave {}\n      all fields: {}",
                    i + 1,
                    at(&want),
                    at(&got),
                    listing(&fields_of(&fields))
                ));
            }
            Ok(())
        },
    );
    check.step(
        "curl's request (captured the same way), decoded with your code from an empty table",
        || {
            let (bytes, authority) = curl_through_relay(server.addr(), &ua)?;
            let blocks = header_blocks(&bytes)?;
            if blocks.len() != 1 {
                return Err(format!(
                    "expected 1 header block from curl (one request), found {}",
                    blocks.len()
                ));
            }
            let mut d = guarded("Table::new", || p.decoder(4096))?;
            let fields = guarded("decoding curl's block", || d.decode(&blocks[0].1))?
                .map_err(|e| format!("curl's header block ({}): {e}", show(&blocks[0].1)))?;
            expect_fields(
                &fields,
                &[
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":path", "/status/200"),
                    (":authority", &authority),
                    ("user-agent", &ua),
                    ("accept", "*/*"),
                ],
                &format!("stream {}", blocks[0].0),
            )
        },
    );
    server.stop();
    check.finish();
}
