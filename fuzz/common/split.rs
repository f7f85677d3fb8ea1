//! Split-input equivalence for the tap decoders: bytes fed in one piece or cut in two at
//! `cut` make the same trace lines (a TCP segment boundary falls anywhere).

use netlab::l4::relay::Side;
use netlab::tap::{Decoder, Line};

/// Feeds `data` as `side` whole, then in two pieces, to fresh decoders from `make`; both
/// must give the same lines, end of stream included.
pub fn same_lines_when_cut(make: fn() -> Box<dyn Decoder>, side: Side, data: &[u8], cut: usize) {
    let cut = if data.is_empty() {
        0
    } else {
        cut % (data.len() + 1)
    };
    let mut whole = make();
    let mut one: Vec<Line> = whole.feed(side, data);
    one.extend(whole.end(side));
    let mut split = make();
    let mut two = split.feed(side, &data[..cut]);
    two.extend(split.feed(side, &data[cut..]));
    two.extend(split.end(side));
    assert_eq!(one, two, "cut at {cut} of {}", data.len());
}
