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
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
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
    /// A body that is a file, read as it is sent instead of held whole in memory (the
    /// static file handler's, `services::files`); `body` is then empty. HTTP/3 streams it in
    /// chunks as flow control takes them; HTTP/1.1 and HTTP/2 read it whole first
    /// ([`Response::load_file`]).
    pub file: Option<FileBody>,
}

/// A file as a response body: the handler opened it once (so a file it cannot open is its
/// 403 or 404, answered before any byte goes out), and the server reads it at offsets as it
/// sends, opening it again for each read. No descriptor is held between reads: a client that
/// opens many streams and never lets them drain cannot pin the server's descriptors, which
/// its other clients' sockets and files need. A read finds the same file (device and inode)
/// or fails, as it does when the file has become shorter than announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBody(Arc<Opened>);

/// What the handler found when it opened the file (shared: a `Response` stays small).
#[derive(Debug, PartialEq, Eq)]
struct Opened {
    path: PathBuf,
    /// The file's device and inode.
    id: (u64, u64),
    len: u64,
}

impl FileBody {
    /// Opens `path` (and closes it again); its length is the open file's.
    pub fn open(path: &Path) -> io::Result<FileBody> {
        let meta = File::open(path)?.metadata()?;
        Ok(FileBody(Arc::new(Opened {
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            len: meta.len(),
        })))
    }

    /// The body's length, as announced in Content-Length.
    pub fn len(&self) -> u64 {
        self.0.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The file again, if it is still the one the handler opened.
    fn reopen(&self) -> io::Result<File> {
        let file = File::open(&self.0.path)?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != self.0.id {
            return Err(io::Error::other(
                "the file was replaced after the handler opened it",
            ));
        }
        Ok(file)
    }

    /// Up to `buf.len()` bytes from `offset` (a positional read); 0 at the end of the file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_at(&self.reopen()?, buf, offset)
    }

    /// The whole body in memory; an error if the file no longer has the length announced.
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let file = self.reopen()?;
        let len = usize::try_from(self.0.len).map_err(io::Error::other)?;
        let mut out = vec![0u8; len];
        let mut at = 0;
        while at < len {
            match read_at(&file, &mut out[at..], at as u64)? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => at += n,
            }
        }
        Ok(out)
    }
}

/// One positional read, tried again when a signal interrupted it.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

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

    /// A response whose body is a file, sent as it is read.
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

    #[test]
    fn a_file_body_holds_no_descriptor_and_refuses_a_replaced_file() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("netlab-file-body-swap-{}", std::process::id()));
        let other = dir.join(format!("netlab-file-body-other-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let before = fds();
        let bodies: Vec<FileBody> = (0..50).map(|_| FileBody::open(&path).unwrap()).collect();
        // Other tests' threads may open files meanwhile: far fewer than 50 either way.
        assert!(fds() < before + 10, "50 bodies, no descriptor each");
        let mut buf = [0u8; 3];
        assert_eq!(bodies[0].read_at(&mut buf, 1).unwrap(), 3);
        // The same name, another file (a new inode): the body is not that file's.
        std::fs::write(&other, b"abcdefghij").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(bodies[0].read_at(&mut buf, 0).is_err());
        assert!(bodies[1].read_all().is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
