//! A response's fields as the binary versions send them (HTTP/2, RFC 9113 §8.2; HTTP/3,
//! RFC 9114 §4.2): names in lower case, no connection-specific field, and the fields the
//! server adds (Date, Content-Length). HTTP/1.1 writes its own text lines (`http1::server`);
//! each binary version puts these fields into its own type (`h2`'s map, quiche's `Header`).

use super::fields::CONNECTION_SPECIFIC;
use super::message::Response;
use super::status;

/// Gives each field of `resp` to `push` (lower-case name, value as its Latin-1 bytes), and
/// says whether content follows the head (`method` is the request's: HEAD gets none).
/// `:status` is not among them: each version writes it its own way.
pub fn response_fields(method: &str, resp: &Response, mut push: impl FnMut(&[u8], &[u8])) -> bool {
    for (name, value) in resp.headers.iter() {
        let lower = name.to_ascii_lowercase();
        if CONNECTION_SPECIFIC.contains(&lower.as_str()) {
            continue;
        }
        // A value holds Latin-1 (`Headers::append_latin1`): one byte per char on the wire.
        let bytes: Vec<u8> = super::fields::latin1_bytes(value).collect();
        push(lower.as_bytes(), &bytes);
    }
    // RFC 9110 §6.6.1: an origin server with a clock sends Date.
    if !resp.headers.contains("date") {
        push(b"date", super::date::now().as_bytes());
    }
    // RFC 9110 §8.6: no Content-Length where no content can be.
    let bodyless = status::forbids_content(resp.status);
    if !bodyless && !resp.headers.contains("content-length") {
        push(b"content-length", resp.body_len().to_string().as_bytes());
    }
    status::content_follows(method, resp.status) && resp.body_len() > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(method: &str, resp: &Response) -> (Vec<(String, String)>, bool) {
        let mut out = Vec::new();
        let body = response_fields(method, resp, |n, v| {
            out.push((
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ))
        });
        (out, body)
    }

    fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn lower_case_names_and_no_connection_fields() {
        let resp = Response::text(200, "hi")
            .header("Connection", "close")
            .header("X-A", "b");
        let (f, body) = fields("GET", &resp);
        assert!(body);
        assert_eq!(get(&f, "x-a"), Some("b"));
        assert_eq!(get(&f, "connection"), None);
        assert_eq!(get(&f, "content-length"), Some("3"));
        assert!(get(&f, "date").is_some());
    }

    #[test]
    fn bodiless_statuses_and_head_send_no_content() {
        let (f, body) = fields("GET", &Response::new(204));
        assert!(!body);
        assert_eq!(get(&f, "content-length"), None);
        let (f, body) = fields("GET", &Response::text(304, "stale"));
        assert!(!body);
        assert_eq!(get(&f, "content-length"), None);
        // HEAD: the length a GET would get, and no content.
        let (f, body) = fields("HEAD", &Response::text(200, "hi"));
        assert!(!body);
        assert_eq!(get(&f, "content-length"), Some("3"));
    }
}
