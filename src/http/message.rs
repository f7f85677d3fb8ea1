//! HTTP messages as values (RFC 9110 §6): the version, a request, a response. These are
//! the semantics every version shares; how a message is framed on the wire is the
//! version's business (`http1::framing` and `http1::chunked`, and HTTP/2 and HTTP/3 frames).
//!
//! A handler gets a complete [`Request`] (the body already read and de-chunked) and returns
//! a [`Response`]; it never learns which version carried them, except by reading
//! `req.version`.

pub use super::fields::Headers;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// The version a message came in: HTTP/1.0 and HTTP/1.1 (RFC 9112 §2.3), HTTP/2 (RFC 9113)
/// and HTTP/3 (RFC 9114), which carry no version on the wire but in the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const HTTP_10: Version = Version { major: 1, minor: 0 };
    pub const HTTP_11: Version = Version { major: 1, minor: 1 };
    pub const HTTP_2: Version = Version { major: 2, minor: 0 };
    pub const HTTP_3: Version = Version { major: 3, minor: 0 };
}

impl fmt::Display for Version {
    /// `HTTP/1.1` as in the request line; `HTTP/2` and `HTTP/3` as their RFCs name them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.major >= 2 {
            write!(f, "HTTP/{}", self.major)
        } else {
            write!(f, "HTTP/{}.{}", self.major, self.minor)
        }
    }
}

/// A request as a handler sees it: the body is complete and already de-chunked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Trailer fields (RFC 9110 §6.5): after the last chunk in HTTP/1.1 (RFC 9112 §7.1.2),
    /// in a last HEADERS frame in HTTP/2 and HTTP/3.
    pub trailers: Headers,
    /// The address the request came from, when a server received it (`None` in a request a
    /// client or a test builds): what a handler needs to give each source its share.
    pub peer: Option<std::net::SocketAddr>,
}

impl Request {
    /// A request with no body, for clients and tests.
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: Version::HTTP_11,
            headers: Headers::new(),
            body: Vec::new(),
            trailers: Headers::new(),
            peer: None,
        }
    }

    /// The path of an origin-form target, without the query: `/a/b?x=1` → `/a/b`.
    pub fn path(&self) -> &str {
        let t = self.target.as_str();
        let t = t.split(['?', '#']).next().unwrap_or(t);
        // absolute-form (to a proxy, or allowed by RFC 9112 §3.2.2 to any server).
        match t.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => t,
        }
    }

    /// The query string, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.target
            .split_once('?')
            .map(|(_, q)| q.split('#').next().unwrap_or(q))
    }

    /// The media type of the body, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.headers.get("content-type").map(super::media::essence)
    }
}

/// A response a handler returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// A body that is an open file, read as it is sent instead of held whole in memory (the
    /// static file handler's, `services::files`); `body` is then empty. HTTP/3 streams it in
    /// chunks as flow control takes them; HTTP/1.1 and HTTP/2 read it whole first
    /// ([`Response::load_file`]).
    pub file: Option<FileBody>,
}

/// An open file as a response body: the handler opened it (so a file it cannot open is its
/// 403 or 404, answered before any byte goes out), and the server reads it at offsets as it
/// sends. Clones share the one open file.
#[derive(Clone, Debug)]
pub struct FileBody {
    file: Arc<File>,
    len: u64,
}

impl FileBody {
    /// Opens `path`; its length is taken from the open file (the one that will be read).
    pub fn open(path: &Path) -> io::Result<FileBody> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileBody {
            file: Arc::new(file),
            len,
        })
    }

    /// The body's length, as announced in Content-Length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Up to `buf.len()` bytes from `offset` (a positional read: clones share no file
    /// position); 0 at the end of the file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        loop {
            match self.file.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// The whole body in memory; an error if the file no longer has the length announced.
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len).map_err(io::Error::other)?;
        let mut out = vec![0u8; len];
        let mut at = 0;
        while at < len {
            match self.read_at(&mut out[at..], at as u64)? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => at += n,
            }
        }
        Ok(out)
    }
}

/// Two file bodies are equal when they are the same open file (clones of one another).
impl PartialEq for FileBody {
    fn eq(&self, other: &FileBody) -> bool {
        Arc::ptr_eq(&self.file, &other.file)
    }
}

impl Eq for FileBody {}

impl Response {
    /// A response with the standard reason phrase and no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            reason: super::status::reason(status).to_string(),
            headers: Headers::new(),
            body: Vec::new(),
            file: None,
        }
    }

    /// A response with a body of the given media type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        let mut r = Response::new(status);
        r.headers.set("Content-Type", content_type);
        r.body = body.into();
        r
    }

    /// A response whose body is an open file, sent as it is read.
    pub fn with_file(status: u16, content_type: &str, file: FileBody) -> Response {
        let mut r = Response::new(status);
        r.headers.set("Content-Type", content_type);
        r.file = Some(file);
        r
    }

    /// The body's length in bytes, in memory or in a file.
    pub fn body_len(&self) -> u64 {
        match &self.file {
            Some(f) => f.len(),
            None => self.body.len() as u64,
        }
    }

    /// For a server that sends bodies from memory: a file body read whole into `body` (a
    /// file that can no longer be read as announced: 403, as when the handler cannot read it).
    pub fn load_file(mut self) -> Response {
        let Some(file) = self.file.take() else {
            return self;
        };
        match file.read_all() {
            Ok(bytes) => {
                self.body = bytes;
                self
            }
            Err(_) => Response::text(403, "the file cannot be read"),
        }
    }

    /// `text/plain` with a trailing newline: what errors answer with.
    pub fn text(status: u16, text: &str) -> Response {
        Response::with_body(status, "text/plain; charset=utf-8", format!("{text}\n"))
    }

    /// Adds a header and returns the response (for building in one expression).
    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.append(name, value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries() {
        let mut r = Request::new("GET", "/a/b?x=1#frag");
        assert_eq!((r.path(), r.query()), ("/a/b", Some("x=1")));
        r.target = "http://example.com:8080/p?q".into();
        assert_eq!(r.path(), "/p");
        r.target = "http://example.com".into();
        assert_eq!(r.path(), "/");
    }

    #[test]
    fn versions_print_as_their_rfcs_spell_them() {
        assert_eq!(Version::HTTP_10.to_string(), "HTTP/1.0");
        assert_eq!(Version::HTTP_11.to_string(), "HTTP/1.1");
        assert_eq!(Version::HTTP_2.to_string(), "HTTP/2");
        assert_eq!(Version::HTTP_3.to_string(), "HTTP/3");
    }

    #[test]
    fn responses_carry_the_registered_reason() {
        assert_eq!(Response::new(412).reason, "Precondition Failed");
        let r = Response::text(404, "none");
        assert_eq!(r.body, b"none\n");
        assert_eq!(
            r.headers.get("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn a_file_body_is_read_at_offsets_or_whole() {
        let path = std::env::temp_dir().join(format!("netlab-file-body-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = FileBody::open(&path).unwrap();
        let r = Response::with_file(200, "application/octet-stream", file.clone());
        assert_eq!((r.body_len(), r.body.len()), (10, 0));
        let mut buf = [0u8; 4];
        assert_eq!(file.read_at(&mut buf, 8).unwrap(), 2);
        assert_eq!(&buf[..2], b"89");
        let loaded = r.load_file();
        assert_eq!(
            (loaded.body.as_slice(), loaded.file),
            (&b"0123456789"[..], None)
        );
        // Shorter than announced (truncated after the handler opened it): no body, a 403.
        std::fs::write(&path, b"01").unwrap();
        let short = Response::with_file(200, "text/plain", file).load_file();
        assert_eq!(short.status, 403);
        std::fs::remove_file(&path).unwrap();
    }
}
