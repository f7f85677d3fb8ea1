//! Status codes and their reason phrases (RFC 9110 §15), with the codes other RFCs add to
//! the IANA registry. A reason phrase is for people only: HTTP/1.1 sends it on the status
//! line, HTTP/2 and HTTP/3 do not send one at all (RFC 9113 §8.3.2).

/// The reason phrase of a registered status code; "" for a code no RFC registers (the
/// status line then ends in `NNN ` and stays valid: `[ reason-phrase ]`, RFC 9112 §4).
pub fn reason(status: u16) -> &'static str {
    match status {
        // 1xx Informational (RFC 9110 §15.2)
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",  // RFC 2518 (WebDAV)
        103 => "Early Hints", // RFC 8297
        // 2xx Successful (§15.3)
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",     // RFC 4918 (WebDAV)
        208 => "Already Reported", // RFC 5842 (WebDAV)
        226 => "IM Used",          // RFC 3229
        // 3xx Redirection (§15.4)
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        306 => "(Unused)",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        // 4xx Client Error (§15.5)
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        // §15.5.19 reserves 418 as "(Unused)"; the phrase is RFC 2324's April joke, which
        // is what every client that knows the code prints.
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",            // RFC 4918
        424 => "Failed Dependency", // RFC 4918
        425 => "Too Early",         // RFC 8470
        426 => "Upgrade Required",
        428 => "Precondition Required",           // RFC 6585
        429 => "Too Many Requests",               // RFC 6585
        431 => "Request Header Fields Too Large", // RFC 6585
        451 => "Unavailable For Legal Reasons",   // RFC 7725
        // 5xx Server Error (§15.6)
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",         // RFC 2295
        507 => "Insufficient Storage",            // RFC 4918
        508 => "Loop Detected",                   // RFC 5842
        511 => "Network Authentication Required", // RFC 6585
        _ => "",
    }
}

/// Whether a response with this status never has content, in any version: "All 1xx
/// (Informational), 204 (No Content), and 304 (Not Modified) responses do not include
/// content" (RFC 9110 §6.4.1).
pub fn forbids_content(status: u16) -> bool {
    status < 200 || status == 204 || status == 304
}

/// Whether content follows a response's head: not for the statuses above, and not in answer
/// to HEAD, whose response has the fields a GET would get and no content (RFC 9110 §9.3.2).
pub fn content_follows(method: &str, status: u16) -> bool {
    method != "HEAD" && !forbids_content(status)
}

/// Every code RFC 9110 §15 defines, in order: what the tests hold [`reason`] to.
pub const RFC_9110: &[u16] = &[
    100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 306, 307, 308, 400,
    401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421,
    422, 426, 500, 501, 502, 503, 504, 505,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_rfc_9110_defines_has_its_phrase() {
        for &code in RFC_9110 {
            assert!(!reason(code).is_empty(), "{code} has no reason phrase");
        }
        assert_eq!(reason(412), "Precondition Failed");
        assert_eq!(reason(410), "Gone");
        assert_eq!(reason(416), "Range Not Satisfiable");
        assert_eq!(reason(413), "Content Too Large");
        assert_eq!(reason(299), "");
    }

    #[test]
    fn informational_204_304_and_head_carry_no_content() {
        for (method, status, follows) in [
            ("GET", 100, false),
            ("GET", 103, false),
            ("GET", 200, true),
            ("GET", 204, false),
            ("POST", 205, true),
            ("GET", 304, false),
            ("GET", 404, true),
            ("HEAD", 200, false),
            ("HEAD", 404, false),
        ] {
            assert_eq!(
                content_follows(method, status),
                follows,
                "{method} answered {status}"
            );
        }
        assert!(forbids_content(101) && forbids_content(204) && forbids_content(304));
        assert!(!forbids_content(200) && !forbids_content(205));
    }
}
