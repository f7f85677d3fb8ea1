//! Lab 03 check: feeds the decoder valid and invalid chunked bodies, each cut into pieces of
//! random sizes (the same pieces every run: the seed is fixed), and compares the result.
//! Run: `make check LAB=03`.

#[path = "../common.rs"]
mod common;
#[path = "decoder.rs"]
mod decoder;
#[path = "solution.rs"]
mod solution;

common::wrong_solutions! {
    fn maker(m) -> Box<dyn Fn() -> Box<dyn Feed>> {
        Box::new(|| Box::new(Fed(m::Decoder::new(), m::Decoder::feed)))
    }
    student decoder, solution solution;
    bare_lf_accepted fails [10]: "accepts a bare LF where RFC 9112 §7.1 says CRLF";
    from_str_radix fails [9]: "parses the size with from_str_radix, which takes a leading +";
    done_at_last_chunk fails [7, 13]: "ends the body at the last chunk, before its trailers and CRLF";
    wraps_netlabs_decoder fails [14]: "hands every byte to netlab's own ChunkedDecoder instead of decoding";
}

use common::{Check, show};
use std::time::Duration;

/// The interface every file implements: its `Decoder` and that decoder's `feed`.
trait Feed {
    fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<bool, String>;
}

/// A file's `Decoder::feed`.
type FeedFn<D> = fn(&mut D, &[u8], &mut Vec<u8>) -> Result<bool, String>;

/// A decoder of any of the files, with its `feed` method.
struct Fed<D>(D, FeedFn<D>);

impl<D> Feed for Fed<D> {
    fn feed(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<bool, String> {
        (self.1)(&mut self.0, input, body)
    }
}

/// A small deterministic generator (xorshift), so failures can be reproduced.
struct Rng(u64);
impl Rng {
    fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % max as u64) as usize + 1
    }
}

/// Feeds `input` in random pieces; returns the body and whether it completed, or the error.
/// A decoder that panics fails the step with the panic's message.
fn run(
    make: &dyn Fn() -> Box<dyn Feed>,
    input: &[u8],
    seed: u64,
) -> Result<(Vec<u8>, bool), String> {
    let mut d = make();
    let mut rng = Rng(seed);
    let mut body = Vec::new();
    let mut at = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        while at < input.len() {
            let end = (at + rng.next(7)).min(input.len());
            if d.feed(&input[at..end], &mut body)? {
                return Ok(true);
            }
            at = end;
        }
        Ok(false)
    }));
    match outcome {
        Ok(Ok(done)) => Ok((body, done)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("PANIC".into()),
    }
}

fn valid(make: &dyn Fn() -> Box<dyn Feed>, input: &[u8], want: &[u8]) -> Result<(), String> {
    for seed in 1..=20u64 {
        match run(make, input, seed * 7919) {
            Ok((body, true)) if body == want => continue,
            Ok((body, done)) => {
                return Err(format!(
                    "input {} in random pieces (seed {seed}): expected body {} and done, got {} (done = {done})",
                    show(input),
                    show(want),
                    show(&body)
                ));
            }
            Err(e) => {
                return Err(format!(
                    "input {} (seed {seed}) was refused or crashed: {e}",
                    show(input)
                ));
            }
        }
    }
    Ok(())
}

fn invalid(make: &dyn Fn() -> Box<dyn Feed>, input: &[u8], rule: &str) -> Result<(), String> {
    for seed in 1..=10u64 {
        match run(make, input, seed * 104_729) {
            Err(e) if e != "PANIC" => continue,
            Err(_) => {
                return Err(format!(
                    "input {} made the decoder panic: return Err instead",
                    show(input)
                ));
            }
            Ok((_, done)) => {
                return Err(format!(
                    "input {} breaks the rule \"{rule}\" but was accepted (done = {done})",
                    show(input)
                ));
            }
        }
    }
    Ok(())
}

fn main() {
    let (mut check, subject) = Check::start(
        "03 (chunked decoding)",
        "labs/03-chunked/decoder.rs",
        WRONG,
        Duration::from_secs(30),
    );
    let make = maker(&subject);
    check.nothing_to_serve(
        "a decoder, fed bytes by the check",
        &[
            "make check LAB=03   (your decoder on the check's inputs; NETLAB_NO_WATCHDOG=1 lifts the time limit)",
            "netlab's own chunked decoder at work: NETLAB_TRACE=http1 netlab http serve --addr 127.0.0.1:8080",
            "  then: curl -H 'Transfer-Encoding: chunked' --data-binary 'hello, chunks' http://127.0.0.1:8080/echo",
        ],
    );
    // A panicking decoder fails its step; the report says so, without a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let m = make.as_ref();
    check.step("one chunk, delivered in one piece", || {
        valid(m, b"5\r\nhello\r\n0\r\n\r\n", b"hello")
    });
    check.step("several chunks, hex sizes in both cases, in random pieces", || {
        valid(m, b"4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\na\r\n0123456789\r\nA\r\nABCDEFGHIJ\r\n0\r\n\r\n", b"Wikipedia in \r\n\r\nchunks.0123456789ABCDEFGHIJ")
    });
    check.step("chunk data that contains CRLF and digits", || {
        valid(m, b"8\r\n1\r\n2\r\n34\r\n0\r\n\r\n", b"1\r\n2\r\n34")
    });
    check.step("chunk extensions are ignored (RFC 9112 §7.1.1)", || {
        valid(
            m,
            b"5;name=value\r\nhello\r\n6 ; quoted=\"a;b\"\r\n world\r\n0;last\r\n\r\n",
            b"hello world",
        )
    });
    check.step(
        "trailer fields after the last chunk (RFC 9112 §7.1.2)",
        || {
            valid(
                m,
                b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 42\r\n\r\n",
                b"abc",
            )
        },
    );
    check.step("leading zeros in chunk-size", || {
        valid(m, b"0003\r\nabc\r\n000\r\n\r\n", b"abc")
    });
    check.step("not done before the final CRLF", || {
        match run(m, b"3\r\nabc\r\n0\r\n", 1) {
            Ok((_, false)) => Ok(()),
            Ok((_, true)) => Err(
                "the body was reported complete before the CRLF that ends the trailer section"
                    .into(),
            ),
            Err(e) => Err(format!("valid but incomplete input was refused: {e}")),
        }
    });
    check.step("a chunk-size that is not hex is refused", || {
        invalid(m, b"zz\r\nabc\r\n0\r\n\r\n", "chunk-size = 1*HEXDIG")
    });
    check.step("a negative or signed size is refused", || {
        invalid(m, b"-3\r\nabc\r\n0\r\n\r\n", "chunk-size = 1*HEXDIG")?;
        invalid(m, b"+3\r\nabc\r\n0\r\n\r\n", "chunk-size = 1*HEXDIG")
    });
    check.step("a bare LF after the size is refused", || {
        invalid(m, b"3\nabc\r\n0\r\n\r\n", "lines end with CRLF")
    });
    check.step("data longer than its size is refused", || {
        invalid(m, b"3\r\nabcd\r\n0\r\n\r\n", "chunk-data CRLF")
    });
    check.step("a size that overflows 64 bits is refused", || {
        invalid(m, b"10000000000000000\r\nx\r\n0\r\n\r\n", "no overflow")
    });
    check.step("a trailer line without a colon is refused", || {
        invalid(
            m,
            b"0\r\nnot a field\r\n\r\n",
            "field-line = field-name \":\" field-value",
        )
    });
    let source = common::source_of("labs/03-chunked/decoder.rs", &subject, WRONG);
    check.step("the decoder is your own, not netlab's", || {
        // netlab's decoder is public (the HTTP/1.1 tap and the fuzz target use it): this lab
        // is about writing one, so calling it is not an answer.
        if source.contains("http1::chunked") || source.contains("ChunkedDecoder") {
            Err("expected a decoder written in this file; it calls netlab's own (netlab::http1::chunked::ChunkedDecoder)\n      likely: the lab's point is the grammar of RFC 9112 §7.1; write the states yourself, then read src/http1/chunked.rs to compare".to_string())
        } else {
            Ok(())
        }
    });
    check.finish();
}
