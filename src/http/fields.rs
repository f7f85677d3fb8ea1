//! Fields (RFC 9110 §5): names that compare case-insensitively, values kept as received,
//! list fields split on commas; and the fields that concern one connection only (§7.6.1),
//! which every intermediary removes.
//!
//! How fields travel is the version's business: HTTP/1.1 writes `Name: value` lines
//! (`http1::head`), HTTP/2 and HTTP/3 compress them (HPACK, QPACK). A handler sees only this.

/// Header fields in the order received. Names compare case-insensitively (RFC 9110 §5.1).
///
/// Each field is a pair of strings, so a debugger prints `("Host", "example.com")` as it is
/// (`p req.headers`): one string for all of them with spans into it saves a few allocations
/// per request, and costs that view; this project keeps the view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Room for `fields` fields, made once.
    pub fn with_capacity(fields: usize) -> Headers {
        Headers {
            fields: Vec::with_capacity(fields),
        }
    }

    /// Adds a field line (a name may repeat).
    pub fn append(&mut self, name: &str, value: &str) {
        self.fields.push((name.to_string(), value.to_string()));
    }

    /// Adds a field from the bytes of a message: Latin-1, so obs-text survives and the value
    /// can be written back byte for byte (one copy when it is ASCII, as nearly every field is).
    pub fn append_latin1(&mut self, name: &[u8], value: &[u8]) {
        self.fields.push((latin1(name), latin1(value)));
    }

    /// Replaces every field of that name with one.
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.append(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of that name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of that name, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The comma-separated list elements of every field of that name (RFC 9110 §5.6.1),
    /// lower-cased: `Connection: keep-alive, Upgrade` → ["keep-alive", "upgrade"].
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Does a list field contain this token (case-insensitive)?
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        // The same elements as `list`, compared where they lie: no copy per request.
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Latin-1 decoding: every byte becomes the char with the same number, so obs-text survives
/// and the value can be written back byte for byte.
pub fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        // ASCII (nearly every field) is the same in both: one copy, no per-char work.
        Ok(s) if s.is_ascii() => s.to_string(),
        _ => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Latin-1 encoding, the inverse of [`latin1`]: each char back to the byte with its number, so
/// a value goes on the wire (any version) byte for byte as it arrived.
pub fn latin1_bytes(value: &str) -> impl Iterator<Item = u8> + '_ {
    value.chars().map(|c| c as u32 as u8)
}

/// Fields HTTP/2 and HTTP/3 forbid, since their framing does these fields' work
/// (RFC 9113 §8.2.2, RFC 9114 §4.2): neither version sends them, whatever a handler set.
pub const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Fields that concern one connection only and never travel through an intermediary
/// (RFC 9110 §7.6.1), plus `Proxy-Connection` and `Keep-Alive`, which old clients send.
///
/// `Trailer` is not hop-by-hop in RFC 9110 (§6.6.2): it announces the trailer fields of a
/// chunked body. It is dropped here because the proxy and the gateway de-chunk what they
/// relay and forward it with a Content-Length, so the trailers it announces never follow.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// Removes hop-by-hop fields, including those the Connection field names (RFC 9110 §7.6.1).
pub fn strip_hop_by_hop(headers: &Headers) -> Headers {
    let named: Vec<String> = headers.list("connection");
    let mut out = Headers::new();
    for (n, v) in headers.iter() {
        let lower = n.to_ascii_lowercase();
        if !HOP_BY_HOP.contains(&lower.as_str()) && !named.contains(&lower) {
            out.append(n, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_lists_split() {
        let mut h = Headers::new();
        h.append("Connection", "Keep-Alive, Upgrade");
        h.append("connection", "close");
        assert_eq!(h.list("CONNECTION"), ["keep-alive", "upgrade", "close"]);
        assert!(h.has_token("connection", "CLOSE"));
        assert_eq!(h.get("CoNnEcTiOn"), Some("Keep-Alive, Upgrade"));
        h.set("CONNECTION", "x");
        assert_eq!(h.get_all("connection").collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn hop_by_hop_fields_stay_behind() {
        let mut h = Headers::new();
        for (n, v) in [
            ("Host", "a"),
            ("Connection", "close, X-Secret"),
            ("X-Secret", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Accept", "*/*"),
            ("TE", "trailers"),
        ] {
            h.append(n, v);
        }
        let stripped = strip_hop_by_hop(&h);
        let kept: Vec<&str> = stripped.iter().map(|(n, _)| n).collect();
        assert_eq!(kept, ["Host", "Accept"]);
    }
}
