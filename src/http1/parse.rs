//! The HTTP/1.1 message head parser: RFC 9112 §2–§5 (start line and field lines) with the
//! field syntax of RFC 9110 §5. Sans-IO and incremental, in the manner of httparse:
//!
//! - give it the bytes received so far; it returns `Complete((head, n))` once the whole head
//!   (through the empty line) is there, `n` being the head's length, or `Partial` when more
//!   bytes are needed. Incomplete input is never an error.
//! - a line that is complete and breaks a rule is an error at once, even before the rest of
//!   the head arrives, with one [`ParseError`] variant per grammar position.
//!
//! The parser does no I/O and keeps no state between calls (the caller keeps the bytes);
//! the server traces what it parsed once a head is complete.
//!
//! The values it returns, and their reverse (`emit`, what every writer of a head calls), are
//! in [`super::head`]. Bodies are not parsed here: [`super::framing`] decides their length
//! (§6) and [`super::chunked`] decodes chunked bodies (§7.1).

use super::head::{RequestHead, ResponseHead};
use crate::http::fields::latin1;
use crate::http::message::{Headers, Version};
use std::fmt;

/// The result of feeding bytes to the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is complete: the value and how many bytes it used.
    Complete(T),
    /// More bytes are needed.
    Partial,
}

/// How much the parser accepts before it refuses (each limit has its own status code).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The whole head, request line included → 431.
    pub max_head: usize,
    /// Field lines → 431.
    pub max_headers: usize,
    /// The request-target → 414.
    pub max_target: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 64 * 1024,
            max_headers: 100,
            max_target: 8 * 1024,
        }
    }
}

/// One variant per rule of the grammar that the input broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// method = token (RFC 9110 §9.1).
    Method,
    /// request-target has a character outside VCHAR, or is empty (RFC 9112 §3.2).
    Target,
    /// request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
    RequestLine,
    /// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
    Version,
    /// A well-formed version this server does not implement (2.0 over this parser) → 505.
    UnsupportedVersion(Version),
    /// status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4).
    StatusLine,
    /// status-code = 3DIGIT (RFC 9112 §4).
    StatusCode,
    /// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) (RFC 9112 §4).
    Reason,
    /// field-name = token (RFC 9110 §5.1).
    HeaderName,
    /// "No whitespace is allowed between the field name and colon" (RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
    MissingColon,
    /// field-value may not contain CR, LF or NUL, nor other CTLs (RFC 9110 §5.5).
    HeaderValue,
    /// obs-fold: a field line continued on the next line (RFC 9112 §5.2).
    ObsFold,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BareCr,
    /// More field lines than the limit → 431.
    TooManyHeaders,
    /// A head larger than the limit → 431.
    HeadTooLarge,
    /// A request-target longer than the limit → 414.
    TargetTooLong,
}

impl ParseError {
    /// The status code a server answers this error with (RFC 9110 §15).
    pub fn status(&self) -> u16 {
        match self {
            ParseError::UnsupportedVersion(_) => 505,
            ParseError::TooManyHeaders | ParseError::HeadTooLarge => 431,
            ParseError::TargetTooLong => 414,
            _ => 400,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ParseError::Method => "invalid method: method = token (RFC 9110 §9.1)",
            ParseError::Target => {
                "invalid request-target: only visible ASCII characters (RFC 9112 §3.2)"
            }
            ParseError::RequestLine => {
                "malformed request-line: method SP request-target SP HTTP-version (RFC 9112 §3)"
            }
            ParseError::Version => {
                "malformed HTTP-version: \"HTTP/\" DIGIT \".\" DIGIT (RFC 9112 §2.3)"
            }
            ParseError::UnsupportedVersion(v) => {
                return write!(f, "HTTP version {v} not supported (RFC 9110 §15.6.6)");
            }
            ParseError::StatusLine => {
                "malformed status-line: HTTP-version SP status-code SP [reason-phrase] (RFC 9112 §4)"
            }
            ParseError::StatusCode => "malformed status-code: 3DIGIT (RFC 9112 §4)",
            ParseError::Reason => "invalid character in reason-phrase (RFC 9112 §4)",
            ParseError::HeaderName => "invalid field-name: field-name = token (RFC 9110 §5.1)",
            ParseError::WhitespaceBeforeColon => {
                "whitespace between field name and colon (RFC 9112 §5.1: MUST reject with 400)"
            }
            ParseError::MissingColon => "field line without a colon (RFC 9112 §5)",
            ParseError::HeaderValue => {
                "invalid character (CR, LF, NUL or CTL) in field-value (RFC 9110 §5.5)"
            }
            ParseError::ObsFold => {
                "obsolete line folding (obs-fold) is not accepted (RFC 9112 §5.2)"
            }
            ParseError::BareCr => "bare CR not followed by LF (RFC 9112 §2.2)",
            ParseError::TooManyHeaders => "too many header fields (RFC 6585 §5: 431)",
            ParseError::HeadTooLarge => "request head too large (RFC 6585 §5: 431)",
            ParseError::TargetTooLong => "request-target too long (RFC 9110 §15.5.15: 414)",
        };
        f.write_str(s)
    }
}

impl std::error::Error for ParseError {}

/// Byte classes, one table lookup per byte instead of a chain of comparisons:
/// - `TCHAR`: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
///   "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2);
/// - `VALUE`: field-vchar = VCHAR / obs-text, and SP and HTAB between them (RFC 9110 §5.5);
/// - `VCHAR`: %x21-7E, what a request-target is made of (RFC 9112 §3.2).
const TCHAR: u8 = 1;
const VALUE: u8 = 2;
const VCHAR: u8 = 4;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            c |= TCHAR;
        }
        if b == b'\t' || b == b' ' || (b >= 0x21 && b <= 0x7e) || b >= 0x80 {
            c |= VALUE;
        }
        if b >= 0x21 && b <= 0x7e {
            c |= VCHAR;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// The first index at or after `i` whose byte is not a tchar (or `buf.len()`): one table
/// lookup per byte (tchar is no range a word-wide check could test), taken eight bytes at
/// a time so that only every eighth byte pays for the check against the buffer's end.
#[inline(always)]
fn skip_token(buf: &[u8], mut i: usize) -> usize {
    while let Some(block) = buf[i..].first_chunk::<8>() {
        for (k, &b) in block.iter().enumerate() {
            if CLASS[b as usize] & TCHAR == 0 {
                return i + k;
            }
        }
        i += 8;
    }
    while i < buf.len() && CLASS[buf[i] as usize] & TCHAR != 0 {
        i += 1;
    }
    i
}

/// Eight copies of `b` in one word.
const fn splat(b: u8) -> u64 {
    b as u64 * 0x0101_0101_0101_0101
}

/// Eight bytes read as one little-endian word: the high bit of a byte of the result is set
/// where that byte is below `low`, is DEL (0x7F), or — unless `high_ok` — is 0x80 or above.
/// Plain integer arithmetic on a u64 ("SIMD within a register", as httparse's path without
/// SIMD does it), no intrinsics. A subtraction borrows only out of a byte that is itself
/// flagged, so bytes above a flagged one may be flagged wrongly, never the lowest one: the
/// caller wants only the first.
#[inline(always)]
fn outside(x: u64, low: u8, high_ok: bool) -> u64 {
    let below = x.wrapping_sub(splat(low)) & !x;
    let del = x ^ splat(0x7f);
    let is_del = del.wrapping_sub(splat(1)) & !del;
    let high = if high_ok { 0 } else { x };
    (below | is_del | high) & splat(0x80)
}

/// The first index at or after `i` whose byte is not of `class` (`VALUE` or `VCHAR`), or
/// `buf.len()`. Eight bytes a turn by the range check of [`outside`] — `low` and `high_ok`
/// describe the class's main range — and then one byte by the table, which decides the
/// bytes outside that range (HTAB in a field value) and the last few bytes of the buffer.
#[inline(always)]
fn skip_range(buf: &[u8], mut i: usize, class: u8, low: u8, high_ok: bool) -> usize {
    loop {
        while let Some(block) = buf[i..].first_chunk::<8>() {
            let bad = outside(u64::from_le_bytes(*block), low, high_ok);
            if bad != 0 {
                i += (bad.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match buf.get(i) {
            Some(&b) if CLASS[b as usize] & class != 0 => i += 1,
            _ => return i,
        }
    }
}

/// field-vchar, SP and HTAB from `i` on (see [`skip_range`]).
#[inline(always)]
fn skip_value(buf: &[u8], i: usize) -> usize {
    skip_range(buf, i, VALUE, 0x20, true)
}

/// The request-target's VCHARs from `i` on (see [`skip_range`]).
#[inline(always)]
fn skip_target(buf: &[u8], i: usize) -> usize {
    skip_range(buf, i, VCHAR, 0x21, false)
}

/// tchar (RFC 9110 §5.6.2)
pub fn is_tchar(b: u8) -> bool {
    CLASS[b as usize] & TCHAR != 0
}

/// token = 1*tchar
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// field-vchar = VCHAR / obs-text; SP and HTAB may stand between them (RFC 9110 §5.5).
fn is_field_value_byte(b: u8) -> bool {
    CLASS[b as usize] & VALUE != 0
}

/// Splits the next line off `buf`: `Some((line, rest))` without its CRLF (or bare LF, which
/// RFC 9112 §2.2 lets a recipient accept), `None` when no full line is there yet.
fn next_line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, ParseError> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        // A CR that is not the last byte and is not followed by LF is already wrong.
        if let Some(cr) = buf.iter().position(|&b| b == b'\r') {
            if cr + 1 < buf.len() {
                return Err(ParseError::BareCr);
            }
        }
        return Ok(None);
    };
    let line = if lf > 0 && buf[lf - 1] == b'\r' {
        &buf[..lf - 1]
    } else {
        &buf[..lf]
    };
    if line.contains(&b'\r') {
        return Err(ParseError::BareCr);
    }
    Ok(Some((line, lf + 1)))
}

/// HTTP-version = HTTP-name "/" DIGIT "." DIGIT
fn parse_version(s: &[u8]) -> Result<Version, ParseError> {
    match s {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Ok(Version {
                major: major - b'0',
                minor: minor - b'0',
            })
        }
        _ => Err(ParseError::Version),
    }
}

/// One field line as found in the input: the name, and the value without its OWS. Nothing
/// is copied: both borrow the caller's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'b> {
    pub name: &'b [u8],
    pub value: &'b [u8],
}

/// A field for an array to be filled by [`parse_request_borrowed`].
pub const EMPTY_FIELD: Field<'static> = Field {
    name: b"",
    value: b"",
};

/// A request line as found in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLine<'b> {
    pub method: &'b [u8],
    pub target: &'b [u8],
    pub version: Version,
}

/// field-line = field-name ":" OWS field-value OWS — checked in full on a complete line.
/// This is the rule as the RFC states it, with one error per way to break it; the fast path
/// of [`field_line`] comes here only for a line that breaks a rule or is not complete.
fn parse_field_line(line: &[u8]) -> Result<Field<'_>, ParseError> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(ParseError::ObsFold);
    }
    let colon = line.iter().position(|&b| b == b':').ok_or_else(|| {
        if line.iter().all(|&b| is_tchar(b)) {
            ParseError::MissingColon
        } else {
            ParseError::HeaderName
        }
    })?;
    let name = &line[..colon];
    if name.last().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(ParseError::WhitespaceBeforeColon);
    }
    if !is_token(name) {
        return Err(ParseError::HeaderName);
    }
    let value = &line[colon + 1..];
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(ParseError::HeaderValue);
    }
    Ok(Field {
        name,
        value: value.trim_ascii(),
    })
}

/// The line at `at` when it is not a well-formed field line: an error, or `None` when the
/// line is not complete yet — decided by the rules of [`parse_field_line`].
fn field_line_slow(
    buf: &[u8],
    at: usize,
) -> Result<Option<(Option<Field<'_>>, usize)>, ParseError> {
    let Some((line, used)) = next_line(&buf[at..])? else {
        return Ok(None);
    };
    if line.is_empty() {
        return Ok(Some((None, at + used)));
    }
    Ok(Some((Some(parse_field_line(line)?), at + used)))
}

/// A well-formed field line at `at`, in one pass over its bytes: the field, and where the
/// next line starts. `None` for anything else — the empty line, a line not complete yet, a
/// line that breaks a rule — which [`field_line_slow`] then decides by the rules, so both
/// paths give the same answer on every input. (An `Option` of borrowed slices, not a
/// `Result`: the compiler keeps it in registers; a `Result` carrying a [`ParseError`] went
/// through memory on every line and cost a third of the parse.)
#[inline(always)]
fn field_line(buf: &[u8], at: usize) -> Option<(Field<'_>, usize)> {
    // field-name: tchar up to the colon.
    let colon = skip_token(buf, at);
    if colon == at || buf.get(colon) != Some(&b':') {
        return None;
    }
    let name = &buf[at..colon];
    // field-value: field-vchar, SP, HTAB up to the line's end, CRLF or a bare LF.
    let value_start = colon + 1;
    let end = skip_value(buf, value_start);
    let next = match (buf.get(end), buf.get(end + 1)) {
        (Some(b'\r'), Some(b'\n')) => end + 2,
        (Some(b'\n'), _) => end + 1,
        _ => return None,
    };
    let value = buf[value_start..end].trim_ascii();
    Some((Field { name, value }, next))
}

/// Parses field lines until the empty line. Returns the headers and the offset after the
/// empty line, or `None` when the head is not complete yet.
pub fn parse_fields(
    buf: &[u8],
    at: usize,
    limits: &Limits,
) -> Result<Option<(Headers, usize)>, ParseError> {
    let mut headers = Headers::new();
    let end = scan_fields(buf, at, limits, |f| {
        headers.append_latin1(f.name, f.value);
        Ok(())
    })?;
    Ok(end.map(|end| (headers, end)))
}

/// Hands each field line from `at` to `field` until the empty line; returns the offset after
/// it, or `None` when the head is not complete yet.
fn scan_fields<'b>(
    buf: &'b [u8],
    mut at: usize,
    limits: &Limits,
    mut field: impl FnMut(Field<'b>) -> Result<(), ParseError>,
) -> Result<Option<usize>, ParseError> {
    let mut count = 0;
    loop {
        if count >= limits.max_headers {
            // At the limit, the next complete line must be the empty one, whatever it holds.
            return match next_line(&buf[at..])? {
                None => Ok(None),
                Some((b"", used)) => Ok(Some(at + used)),
                Some(_) => Err(ParseError::TooManyHeaders),
            };
        }
        let (f, next) = match field_line(buf, at) {
            Some(found) => found,
            // The empty line, an incomplete line or a broken rule: by the rules.
            None => match field_line_slow(buf, at)? {
                None => return Ok(None),
                Some((None, end)) => return Ok(Some(end)),
                Some((Some(f), next)) => (f, next),
            },
        };
        count += 1;
        field(f)?;
        at = next;
    }
}

/// The request line at `at`: method SP request-target SP HTTP-version, then CRLF. The usual
/// line is read in one pass; anything unusual goes to the rules of [`parse_request_line`].
fn request_line<'b>(
    buf: &'b [u8],
    at: usize,
    limits: &Limits,
) -> Result<Option<(RequestLine<'b>, usize)>, ParseError> {
    if let Some(found) = request_line_fast(buf, at, limits) {
        return Ok(Some(found));
    }
    // The rules, on the complete line (or Partial when it is not complete).
    let Some((line, used)) = next_line(&buf[at..])? else {
        return Ok(None);
    };
    let (method, target, version) = parse_request_line(line, limits)?;
    Ok(Some((
        RequestLine {
            method,
            target,
            version,
        },
        at + used,
    )))
}

/// A well-formed request line at `at`, in one pass over its bytes: the line, and where the
/// next line starts. `None` for anything else (incomplete, unusual or broken), which
/// [`request_line`] then decides by the rules; an `Option`, like [`field_line`], so that it
/// stays in registers.
#[inline(always)]
fn request_line_fast<'b>(
    buf: &'b [u8],
    at: usize,
    limits: &Limits,
) -> Option<(RequestLine<'b>, usize)> {
    // method SP
    let method_end = skip_token(buf, at);
    if method_end == at || buf.get(method_end) != Some(&b' ') {
        return None;
    }
    // request-target SP, within the limit.
    let target_start = method_end + 1;
    let target_end = skip_target(buf, target_start);
    if buf.get(target_end) != Some(&b' ')
        || target_end == target_start
        || target_end - target_start > limits.max_target
    {
        return None;
    }
    // HTTP-version (1.x only), then CRLF or a bare LF.
    let i = target_end;
    let version = parse_version(buf.get(i + 1..i + 9)?).ok()?;
    let next = match (buf.get(i + 9), buf.get(i + 10)) {
        (Some(b'\r'), Some(b'\n')) => i + 11,
        (Some(b'\n'), _) => i + 10,
        _ => return None,
    };
    if version.major != 1 {
        return None;
    }
    Some((
        RequestLine {
            method: &buf[at..method_end],
            target: &buf[target_start..target_end],
            version,
        },
        next,
    ))
}

/// Scans a request head without copying anything: the request line, and each field line
/// handed to `field` as it is found. Returns the line and the head's length. The borrowed
/// and owned parsers below are both this scan.
pub fn scan_request<'b>(
    buf: &'b [u8],
    limits: &Limits,
    field: impl FnMut(Field<'b>) -> Result<(), ParseError>,
) -> Result<Status<(RequestLine<'b>, usize)>, ParseError> {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    let mut at = 0;
    while buf[at..].starts_with(b"\r\n") || buf[at..].starts_with(b"\n") {
        at += if buf[at] == b'\r' { 2 } else { 1 };
    }
    let Some((line, next)) = request_line(buf, at, limits)? else {
        return partial(&buf[at..], limits, true);
    };
    match scan_fields(buf, next, limits, field)? {
        Some(end) if end <= limits.max_head => Ok(Status::Complete((line, end))),
        Some(_) => Err(ParseError::HeadTooLarge),
        None => partial(buf, limits, false),
    }
}

/// The request head as slices of `buf`, its fields in the caller's array (the way httparse
/// hands them out): `Complete((line, fields used, head length))`. More fields than the array
/// holds (or than the limit allows) is TooManyHeaders.
pub fn parse_request_borrowed<'b>(
    buf: &'b [u8],
    limits: &Limits,
    fields: &mut [Field<'b>],
) -> Result<Status<(RequestLine<'b>, usize, usize)>, ParseError> {
    let mut n = 0;
    let status = scan_request(buf, limits, |f| {
        let slot = fields.get_mut(n).ok_or(ParseError::TooManyHeaders)?;
        *slot = f;
        n += 1;
        Ok(())
    })?;
    Ok(match status {
        Status::Complete((line, len)) => Status::Complete((line, n, len)),
        Status::Partial => Status::Partial,
    })
}

/// Parses a request head: request-line CRLF *( field-line CRLF ) CRLF (RFC 9112 §2.1), into
/// the owned head a handler's request is made from.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Status<(RequestHead, usize)>, ParseError> {
    let mut headers = Headers::with_capacity(16);
    let status = scan_request(buf, limits, |f| {
        headers.append_latin1(f.name, f.value);
        Ok(())
    })?;
    Ok(match status {
        Status::Complete((line, end)) => Status::Complete((
            RequestHead {
                method: latin1(line.method),
                target: latin1(line.target),
                version: line.version,
                headers,
            },
            end,
        )),
        Status::Partial => Status::Partial,
    })
}

fn partial<T>(
    pending: &[u8],
    limits: &Limits,
    in_first_line: bool,
) -> Result<Status<T>, ParseError> {
    if in_first_line && pending.len() > limits.max_target + 64 {
        // Most of an unfinished request line is its target.
        return Err(ParseError::TargetTooLong);
    }
    if pending.len() > limits.max_head {
        return Err(ParseError::HeadTooLarge);
    }
    Ok(Status::Partial)
}

/// request-line = method SP request-target SP HTTP-version (RFC 9112 §3), checked in full on
/// a complete line, with one error per rule.
fn parse_request_line<'b>(
    line: &'b [u8],
    limits: &Limits,
) -> Result<(&'b [u8], &'b [u8], Version), ParseError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        // Tell apart a bad method from a bad shape, so the error names the right rule.
        let first = line.split(|&b| b == b' ').next().unwrap_or_default();
        return Err(if !first.is_empty() && !is_token(first) {
            ParseError::Method
        } else {
            ParseError::RequestLine
        });
    };
    if !is_token(method) {
        return Err(ParseError::Method);
    }
    if target.is_empty() || !target.iter().all(|&b| CLASS[b as usize] & VCHAR != 0) {
        return Err(ParseError::Target);
    }
    if target.len() > limits.max_target {
        return Err(ParseError::TargetTooLong);
    }
    let version = parse_version(version)?;
    if version.major != 1 {
        return Err(ParseError::UnsupportedVersion(version));
    }
    Ok((method, target, version))
}

/// Parses a response head: status-line CRLF *( field-line CRLF ) CRLF (RFC 9112 §4).
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
) -> Result<Status<(ResponseHead, usize)>, ParseError> {
    let Some((line, used)) = next_line(buf)? else {
        return partial(buf, limits, false);
    };
    let (version, status, reason) = parse_status_line(line)?;
    match parse_fields(buf, used, limits)? {
        Some((headers, end)) if end <= limits.max_head => Ok(Status::Complete((
            ResponseHead {
                version,
                status,
                reason,
                headers,
            },
            end,
        ))),
        Some(_) => Err(ParseError::HeadTooLarge),
        None => partial(buf, limits, false),
    }
}

fn parse_status_line(line: &[u8]) -> Result<(Version, u16, String), ParseError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parse_version(parts.next().unwrap_or_default())?;
    let code = parts.next().ok_or(ParseError::StatusLine)?;
    let status = match code {
        [a, b, c] if code.iter().all(u8::is_ascii_digit) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(ParseError::StatusCode),
    };
    // The SP after the code is required, the reason-phrase is not (RFC 9112 §4); many
    // servers leave out the SP too, and RFC 9112 asks clients to be lenient here.
    let reason = parts.next().unwrap_or_default();
    if !reason.iter().all(|&b| is_field_value_byte(b)) {
        return Err(ParseError::Reason);
    }
    Ok((version, status, latin1(reason)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(bytes: &[u8]) -> Result<Status<(RequestHead, usize)>, ParseError> {
        parse_request(bytes, &Limits::default())
    }

    fn complete(bytes: &[u8]) -> RequestHead {
        match req(bytes) {
            Ok(Status::Complete((h, n))) => {
                assert_eq!(n, bytes.len(), "head length");
                h
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    /// (method, target, fields, head length): what both ways of parsing are compared on.
    type Parsed = Result<Status<(Vec<u8>, Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, usize)>, ParseError>;

    /// The rules alone, line by line (the slow path), as the reference for the one-pass scan.
    fn by_the_rules(buf: &[u8], limits: &Limits) -> Parsed {
        let mut at = 0;
        while buf[at..].starts_with(b"\r\n") || buf[at..].starts_with(b"\n") {
            at += if buf[at] == b'\r' { 2 } else { 1 };
        }
        let Some((line, used)) = next_line(&buf[at..])? else {
            return partial(&buf[at..], limits, true);
        };
        let (m, t, _) = parse_request_line(line, limits)?;
        let mut at = at + used;
        let mut fields = Vec::new();
        loop {
            let Some((line, used)) = next_line(&buf[at..])? else {
                return partial(buf, limits, false);
            };
            at += used;
            if line.is_empty() {
                break;
            }
            if fields.len() >= limits.max_headers {
                return Err(ParseError::TooManyHeaders);
            }
            let f = parse_field_line(line)?;
            fields.push((f.name.to_vec(), f.value.to_vec()));
        }
        if at > limits.max_head {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(Status::Complete((m.to_vec(), t.to_vec(), fields, at)))
    }

    fn by_the_scan(buf: &[u8], limits: &Limits) -> Parsed {
        let mut fields = Vec::new();
        let st = scan_request(buf, limits, |f| {
            fields.push((f.name.to_vec(), f.value.to_vec()));
            Ok(())
        })?;
        Ok(match st {
            Status::Complete((l, n)) => {
                Status::Complete((l.method.to_vec(), l.target.to_vec(), fields, n))
            }
            Status::Partial => Status::Partial,
        })
    }

    #[test]
    fn the_one_pass_scan_agrees_with_the_rules_on_every_mutation_and_prefix() {
        let limits = Limits {
            max_head: 400,
            max_headers: 6,
            max_target: 40,
        };
        let seeds: &[&[u8]] = &[
            b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
            b"\r\nPOST /p HTTP/1.0\nContent-Length: 3\nX-E:\t v \t\n\n",
            b"PUT /caf\xe9 HTTP/1.1\r\nX: caf\xe9\r\n\r\n",
            b"GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\n\r\n",
            // Longer than a word, so every byte of a target and a value goes through the
            // eight-bytes-a-turn check at every position in its word.
            b"GET /static/app.js?v=3&w=abcdefgh HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux)\r\n\r\n",
        ];
        // Bytes that sit on the edge of a class: separators, controls, obs-text.
        let swaps = [
            b' ', b'\t', b':', b'\r', b'\n', 0, 0x7f, 0x80, 0xff, b'(', b'a', b'/', b'"',
        ];
        let mut checked = 0;
        for seed in seeds {
            for cut in 0..=seed.len() {
                assert_eq!(
                    by_the_scan(&seed[..cut], &limits),
                    by_the_rules(&seed[..cut], &limits),
                    "{:?} cut at {cut}",
                    String::from_utf8_lossy(seed)
                );
            }
            for i in 0..seed.len() {
                for &b in &swaps {
                    let mut m = seed.to_vec();
                    m[i] = b;
                    assert_eq!(
                        by_the_scan(&m, &limits),
                        by_the_rules(&m, &limits),
                        "{:?}",
                        String::from_utf8_lossy(&m)
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn eight_bytes_a_turn_stop_where_the_table_stops() {
        // Every byte value at every position of a run longer than two words, after every
        // start: the word-wide checks end exactly where a byte-by-byte walk over the table
        // ends.
        let by_table = |buf: &[u8], i: usize, class: u8| {
            i + buf[i..]
                .iter()
                .take_while(|&&b| CLASS[b as usize] & class != 0)
                .count()
        };
        for b in 0..=255u8 {
            for at in 0..20 {
                let mut buf = b"abcdefghijklmnopqrst".to_vec();
                buf[at] = b;
                for start in 0..buf.len() {
                    assert_eq!(
                        skip_value(&buf, start),
                        by_table(&buf, start, VALUE),
                        "{b:#x} at {at}"
                    );
                    assert_eq!(
                        skip_target(&buf, start),
                        by_table(&buf, start, VCHAR),
                        "{b:#x} at {at}"
                    );
                    assert_eq!(
                        skip_token(&buf, start),
                        by_table(&buf, start, TCHAR),
                        "{b:#x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn borrowed_and_owned_heads_agree() {
        let bytes = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xe9\r\n\r\n";
        let mut fields = [EMPTY_FIELD; 8];
        let Ok(Status::Complete((line, n, len))) =
            parse_request_borrowed(bytes, &Limits::default(), &mut fields)
        else {
            panic!()
        };
        assert_eq!(
            (line.method, line.target, n, len),
            (&b"GET"[..], &b"/x"[..], 2, bytes.len())
        );
        assert_eq!(
            fields[1],
            Field {
                name: b"X-Obs",
                value: b"caf\xe9"
            }
        );
        let owned = complete(bytes);
        assert_eq!(owned.headers.get("x-obs"), Some("caf\u{e9}"));
        // An array smaller than the fields: TooManyHeaders, as with the limit.
        let mut one = [EMPTY_FIELD; 1];
        assert_eq!(
            parse_request_borrowed(bytes, &Limits::default(), &mut one),
            Err(ParseError::TooManyHeaders)
        );
    }

    #[test]
    fn a_simple_get() {
        let h =
            complete(b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/index.html?q=1");
        assert_eq!(h.version, Version::HTTP_11);
        assert_eq!(h.headers.get("host"), Some("example.com"));
        assert_eq!(h.headers.len(), 2);
    }

    #[test]
    fn every_prefix_of_a_valid_request_is_partial() {
        let full = b"POST /api/notes HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(req(&full[..cut]), Ok(Status::Partial), "cut at {cut}");
        }
        complete(full);
    }

    #[test]
    fn ows_is_trimmed_and_obs_text_kept() {
        let h =
            complete(b"GET / HTTP/1.1\r\nX-A: \t spaced value \t\r\nX-B:\r\nX-C: caf\xe9\r\n\r\n");
        assert_eq!(h.headers.get("x-a"), Some("spaced value"));
        assert_eq!(h.headers.get("x-b"), Some(""));
        assert_eq!(h.headers.get("x-c"), Some("café"));
    }

    #[test]
    fn bare_lf_line_endings_and_leading_empty_lines_are_accepted() {
        let bytes = b"\r\n\nGET / HTTP/1.0\nHost: a\n\n";
        let Ok(Status::Complete((h, n))) = req(bytes) else {
            panic!()
        };
        assert_eq!((h.version, n), (Version::HTTP_10, bytes.len()));
    }

    #[test]
    fn one_error_per_rule() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"G(T / HTTP/1.1\r\n\r\n", ParseError::Method),
            (b"GET  / HTTP/1.1\r\n\r\n", ParseError::RequestLine),
            (b"GET / HTTP/1.1 extra\r\n\r\n", ParseError::RequestLine),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", ParseError::Target),
            (b"GET / HTTP/1.x\r\n\r\n", ParseError::Version),
            (b"GET / http/1.1\r\n\r\n", ParseError::Version),
            (
                b"GET / HTTP/2.0\r\n\r\n",
                ParseError::UnsupportedVersion(Version { major: 2, minor: 0 }),
            ),
            (
                b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                ParseError::WhitespaceBeforeColon,
            ),
            (
                b"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
                ParseError::HeaderName,
            ),
            (b"GET / HTTP/1.1\r\n: a\r\n\r\n", ParseError::HeaderName),
            (b"GET / HTTP/1.1\r\nHost a\r\n\r\n", ParseError::HeaderName),
            (b"GET / HTTP/1.1\r\nHost\r\n\r\n", ParseError::MissingColon),
            (
                b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
                ParseError::HeaderValue,
            ),
            (
                b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
                ParseError::ObsFold,
            ),
            (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", ParseError::BareCr),
            (b"GET / HTTP/1.1\rX", ParseError::BareCr),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                req(bytes),
                Err(want.clone()),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn errors_come_as_soon_as_the_bad_line_is_complete() {
        assert_eq!(
            req(b"GET / HTTP/1.1\r\nBad Name: x\r\n"),
            Err(ParseError::HeaderName)
        );
        assert_eq!(req(b"G@T / HTTP/1.1\r\n"), Err(ParseError::Method));
    }

    #[test]
    fn limits_have_their_own_status() {
        let limits = Limits {
            max_head: 200,
            max_headers: 3,
            max_target: 50,
        };
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(60));
        let e = parse_request(long_target.as_bytes(), &limits).unwrap_err();
        assert_eq!((e.clone(), e.status()), (ParseError::TargetTooLong, 414));
        let unfinished = format!("GET /{}", "a".repeat(200));
        assert_eq!(
            parse_request(unfinished.as_bytes(), &limits),
            Err(ParseError::TargetTooLong)
        );
        let many = "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n";
        let e = parse_request(many.as_bytes(), &limits).unwrap_err();
        assert_eq!((e.clone(), e.status()), (ParseError::TooManyHeaders, 431));
        let big = format!("GET / HTTP/1.1\r\nx: {}\r\n", "v".repeat(300));
        assert_eq!(
            parse_request(big.as_bytes(), &limits),
            Err(ParseError::HeadTooLarge)
        );
    }

    #[test]
    fn responses() {
        let bytes = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let Ok(Status::Complete((h, n))) = parse_response(bytes, &Limits::default()) else {
            panic!()
        };
        assert_eq!(
            (h.status, h.reason.as_str(), n),
            (404, "Not Found", bytes.len())
        );
        let Ok(Status::Complete((h, _))) =
            parse_response(b"HTTP/1.1 204\r\n\r\n", &Limits::default())
        else {
            panic!()
        };
        assert_eq!((h.status, h.reason.as_str()), (204, ""));
        assert_eq!(
            parse_response(b"HTTP/1.1 2000 OK\r\n\r\n", &Limits::default()),
            Err(ParseError::StatusCode)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 20x OK\r\n\r\n", &Limits::default()),
            Err(ParseError::StatusCode)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 O\x01K\r\n\r\n", &Limits::default()),
            Err(ParseError::Reason)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n", &Limits::default()),
            Ok(Status::Partial)
        );
    }
}
