//! Fuzz target: HPACK (src/http2/hpack.rs, src/http2/huffman.rs).
//! - Any block, decoded twice by one decoder (so the dynamic table is used), never panics,
//!   and the table stays within its maximum; the guard's checker gives the same verdict
//!   and keeps the same table.
//! - Huffman: decode(encode(x)) == x, and what decodes re-encodes to a decodable string.
//! - Fields netlab's own integer and Huffman encoders write as literals decode to the same
//!   names and values; an incrementally indexed one is then found at index 62; a table size
//!   update of n leaves a table of maximum n.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use netlab::http2::hpack::{Checker, Decoder, Indexing, Repr, encode_integer};
use netlab::http2::huffman;

#[derive(Arbitrary, Debug)]
struct Literal {
    name: Vec<u8>,
    value: Vec<u8>,
    incremental: bool,
    huffman: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    table_size: u16,
    fields: Vec<Literal>,
}

fn string(s: &[u8], huffman: bool, out: &mut Vec<u8>) {
    if huffman {
        let h = huffman::encode(s);
        encode_integer(h.len(), 7, 0x80, out);
        out.extend_from_slice(&h);
    } else {
        encode_integer(s.len(), 7, 0, out);
        out.extend_from_slice(s);
    }
}

// The raw bytes are the block (so captured blocks seed it); the same bytes, read as an
// `Input`, choose the fields to encode.
fuzz_target!(|data: &[u8]| {
    let (mut d, mut c) = (Decoder::default(), Checker::default());
    for _ in 0..2 {
        let decoded = d.decode(data).map(|f| f.len());
        assert!(d.size().0 <= d.size().1);
        // The guard's checker: the decoder's verdict and table, without the fields.
        assert_eq!(c.check(data), decoded);
        assert_eq!((c.size(), c.len()), (d.size(), d.len()));
    }
    if let Ok(plain) = huffman::decode(data) {
        assert_eq!(huffman::decode(&huffman::encode(&plain)).unwrap(), plain);
    }
    assert_eq!(huffman::decode(&huffman::encode(data)).unwrap(), data);
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };

    // A size update first (§6.3), then each field as a literal with a literal name (§6.2).
    let mut block = Vec::new();
    let size = usize::from(input.table_size);
    encode_integer(size, 5, 0x20, &mut block);
    for f in &input.fields {
        block.push(if f.incremental { 0x40 } else { 0x00 });
        string(&f.name, f.huffman, &mut block);
        string(&f.value, f.huffman, &mut block);
    }
    let mut d = Decoder::new(usize::from(u16::MAX));
    let fields = d.decode(&block).expect("netlab's own encoding decodes");
    assert_eq!(d.size().1, size);
    assert_eq!(fields.len(), input.fields.len());
    for (got, sent) in fields.iter().zip(&input.fields) {
        assert_eq!((&got.name, &got.value), (&sent.name, &sent.value));
        let indexing = if sent.incremental {
            Indexing::Incremental
        } else {
            Indexing::Without
        };
        assert_eq!(
            got.repr,
            Repr::Literal {
                name_index: 0,
                indexing
            }
        );
    }
    // The newest entry of the dynamic table is index 62 (§2.3.3), when it fit (§4.4).
    if let Some(last) = input.fields.last().filter(|f| f.incremental) {
        if netlab::http2::hpack::entry_size(&last.name, &last.value) <= size {
            let got = d
                .decode(&[0x80 | 62])
                .expect("index 62 is the entry just added");
            assert_eq!((&got[0].name, &got[0].value), (&last.name, &last.value));
        }
    }
});
