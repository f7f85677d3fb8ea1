//! Media types (RFC 9110 §8.3.1): `type "/" subtype *( OWS ";" OWS parameter )`, and the
//! types a static file server gives each file extension.

/// The essence of a media type: `Text/HTML; charset=UTF-8` → `text/html`.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A parameter of a media type, e.g. `charset`, unquoted.
pub fn parameter(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The media type for a file name, by extension; unknown files are plain bytes.
pub fn for_path(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("wsdl") => "application/wsdl+xml",
        Some("txt" | "md" | "rs" | "toml") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/vnd.microsoft.icon",
        Some("pdf") => "application/pdf",
        Some("wasm") => "application/wasm",
        Some("woff2") => "font/woff2",
        Some("mp4") => "video/mp4",
        Some("gz") => "application/gzip",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_and_parameters() {
        assert_eq!(essence("Text/HTML; charset=UTF-8"), "text/html");
        assert_eq!(essence("application/json"), "application/json");
        assert_eq!(
            parameter("text/xml; charset=\"utf-8\"", "CHARSET").as_deref(),
            Some("utf-8")
        );
        assert_eq!(parameter("text/xml", "charset"), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(for_path("/a/index.HTML"), "text/html; charset=utf-8");
        assert_eq!(for_path("logo.png"), "image/png");
        assert_eq!(for_path("Makefile"), "application/octet-stream");
        assert_eq!(for_path("archive.tar.gz"), "application/gzip");
    }
}
