//! Static files under a root directory, with media types from extensions, validators
//! (ETag, Last-Modified) and conditional GET → 304 (RFC 9110 §8.8, §13).
//!
//! The path is percent-decoded and then checked segment by segment: `..` (encoded or not),
//! backslashes and NUL bytes are refused, so no request can name a file outside the root.

use crate::http::date;
use crate::http::media;
use crate::http::message::{FileBody, Request, Response};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Decodes `%XX` escapes; `None` for a malformed escape.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Maps a request path to a file under `root`, or `None` if it would leave the root.
pub fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = String::from_utf8(percent_decode(path)?).ok()?;
    let mut out = root.to_path_buf();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => continue,
            ".." => return None,
            s if s.contains('\\') || s.contains('\0') => return None,
            s => out.push(s),
        }
    }
    Some(out)
}

/// Serves GET and HEAD for files under `root`.
pub fn serve(root: &Path, req: &Request) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "static files answer GET and HEAD")
            .header("Allow", "GET, HEAD, OPTIONS");
    }
    let Some(mut path) = resolve(root, req.path()) else {
        return Response::text(403, "that path leaves the document root");
    };
    if path.is_dir() {
        path.push("index.html");
    }
    let Ok(meta) = fs::metadata(&path) else {
        return Response::text(404, &format!("no file at {}", req.path()));
    };
    // Symbolic links may point outside the root: compare the real paths.
    let (Ok(real), Ok(real_root)) = (fs::canonicalize(&path), fs::canonicalize(root)) else {
        return Response::text(404, &format!("no file at {}", req.path()));
    };
    if !real.starts_with(&real_root) || !meta.is_file() {
        return Response::text(403, "that path leaves the document root");
    }
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let secs = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let etag = format!("\"{:x}-{:x}\"", meta.len(), secs);
    let last_modified = date::format(UNIX_EPOCH + std::time::Duration::from_secs(secs));
    // RFC 9110 §13.1.2: If-None-Match wins over If-Modified-Since.
    let not_modified = match req.headers.get("if-none-match") {
        Some(inm) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => req
            .headers
            .get("if-modified-since")
            .and_then(date::parse)
            .is_some_and(|since| since >= UNIX_EPOCH + std::time::Duration::from_secs(secs)),
    };
    if not_modified {
        return Response::new(304)
            .header("ETag", &etag)
            .header("Last-Modified", &last_modified);
    }
    // Opened, not read: the server reads it as it sends (HTTP/3 in chunks as flow control
    // takes them, so a 100 MB file costs a bounded buffer, not 100 MB and their page faults).
    match FileBody::open(&path) {
        Ok(file) => Response::with_file(200, media::for_path(&path.to_string_lossy()), file)
            .header("ETag", &etag)
            .header("Last-Modified", &last_modified),
        Err(_) => Response::text(403, "the file cannot be read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused_encoded_or_not() {
        let root = Path::new("/srv");
        assert_eq!(
            resolve(root, "/a/b.txt"),
            Some(PathBuf::from("/srv/a/b.txt"))
        );
        assert_eq!(
            resolve(root, "/a/./b%20c.txt"),
            Some(PathBuf::from("/srv/a/b c.txt"))
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/a%2f..%2f..%2fx",
            "/a\\..\\b",
            "/a%00b",
            "/%zz",
            "/%c0%ae%c0%ae/x",
        ] {
            assert_eq!(resolve(root, bad), None, "{bad}");
        }
    }
}
