//! The `Link` field (RFC 8288): which resources a response names as `rel=preload`, the
//! same for every version. HTTP/2 pushes them (RFC 9113 §8.4); HTTP/1.1 and HTTP/3 leave
//! them to the client.

use super::fields::Headers;

/// The paths a response names in `Link: <path>; rel=preload` fields (same origin only).
pub fn preloads(headers: &Headers) -> Vec<String> {
    headers
        .get_all("link")
        .flat_map(|v| v.split(','))
        .filter_map(preload_path)
        .collect()
}

/// The path of one link-value if it is a same-origin preload: `</a.css>; rel=preload`.
fn preload_path(link: &str) -> Option<String> {
    let (target, params) = link.trim().split_once(';')?;
    let path = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    let preload = params.split(';').any(is_rel_preload);
    (preload && path.starts_with('/') && !path.starts_with("//")).then(|| path.to_string())
}

/// `rel=preload` or `rel="preload"` (RFC 8288 §3: a quoted value is the same).
fn is_rel_preload(param: &str) -> bool {
    match param.trim().split_once('=') {
        Some((k, v)) => {
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim().trim_matches('"').eq_ignore_ascii_case("preload")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_links_name_what_to_push() {
        let mut h = Headers::new();
        h.append(
            "Link",
            "</a.css>; rel=preload; as=style, <https://elsewhere/x.js>; rel=preload",
        );
        h.append("Link", "</b.js>; rel=\"preload\"");
        h.append("Link", "</c.js>; rel=preload; as=script");
        h.append("Link", "</next>; rel=next");
        assert_eq!(preloads(&h), ["/a.css", "/b.js", "/c.js"]);
    }
}
