//! The whole site, assembled two ways — the point of the monolith-versus-microservices
//! comparison in the README:
//!
//! - [`monolith`]: one process, one router: pages, `/echo`, the notes over REST and SOAP,
//!   static files. A call is a function call.
//! - [`notes_service`] + [`gateway`]: the notes live in their own service (REST and SOAP);
//!   the gateway serves everything else and forwards `/api/notes…` and `/soap` over HTTP.
//!   Every call to a note is now a network hop, visible in the trace.

use super::notes::{Notes, Store};
use super::{files, rest, soap};
use crate::http::handler::Handler;
use crate::http::message::{Request, Response};
use crate::http::router::Router;
use std::path::PathBuf;
use std::sync::Arc;

const INDEX: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>netlab</title></head><body>
<h1>netlab</h1>
<ul>
<li><code>GET /api/notes</code>, <code>POST /api/notes</code>, <code>GET|PUT|DELETE /api/notes/{id}</code> — notes as REST/JSON</li>
<li><code>POST /soap</code> — the same notes as SOAP 1.1; <a href=\"/soap?wsdl\">WSDL</a></li>
<li><code>POST|PUT /echo</code> — your body back, with its Content-Type</li>
<li><a href=\"/chunked\">/chunked</a> — a response sent with Transfer-Encoding: chunked</li>
<li><a href=\"/status/418\">/status/{code}</a> — any status code</li>
<li><a href=\"/delay/1000\">/delay/{ms}</a> — an answer that takes its time</li>
<li><a href=\"/push\">/push</a> — a page with its style and script pushed over HTTP/2</li>
<li><code>TRACE</code> any path — your request back as message/http</li>
</ul></body></html>
";

/// `/echo`: the body back, with the same media type.
pub fn echo(req: &Request) -> Response {
    let ct = req
        .headers
        .get("content-type")
        .unwrap_or("application/octet-stream");
    Response::with_body(200, ct, req.body.clone())
}

/// `/status/{code}`: a response with that status (100–599 only).
pub fn status(req: &Request) -> Response {
    match req
        .path()
        .rsplit('/')
        .next()
        .and_then(|c| c.parse::<u16>().ok())
    {
        Some(code) if (200..600).contains(&code) => Response::text(
            code,
            &format!("{code} {}", crate::http::status::reason(code)),
        ),
        _ => Response::text(400, "use /status/NNN with NNN from 200 to 599"),
    }
}

/// `/delay/{ms}`: answers after `ms` milliseconds (at most 10 s) — a slow resource, to see
/// what a slow response does to the others on the same connection (HTTP/1.1: it holds back
/// every request pipelined behind it; HTTP/2: only its own stream).
pub fn delay(req: &Request) -> Response {
    match req
        .path()
        .rsplit('/')
        .next()
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        Some(ms) if ms <= 10_000 => {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Response::text(200, &format!("answered after {ms} ms"))
        }
        _ => Response::text(400, "use /delay/MS with MS from 0 to 10000"),
    }
}

const PUSH_PAGE: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>pushed</title>
<link rel=\"stylesheet\" href=\"/push/style.css\"><script src=\"/push/app.js\"></script>
</head><body><h1>A page whose style and script were pushed</h1></body></html>
";

/// `/push`: a page that names the two resources it needs in `Link: rel=preload` fields
/// (RFC 8288, W3C Preload). The handler knows nothing of versions: HTTP/1.1 passes the
/// fields on (a browser may fetch early), and the HTTP/2 server pushes what they name
/// (RFC 9113 §8.4) when the client allows it.
pub fn push_page(_: &Request) -> Response {
    Response::with_body(200, "text/html; charset=utf-8", PUSH_PAGE)
        .header("Link", "</push/style.css>; rel=preload; as=style")
        .header("Link", "</push/app.js>; rel=preload; as=script")
}

/// The resources `/push` references.
pub fn push_resource(req: &Request) -> Response {
    match req.path() {
        "/push/style.css" => Response::with_body(200, "text/css", "h1 { color: teal; }\n"),
        "/push/app.js" => Response::with_body(
            200,
            "text/javascript",
            "console.log('pushed with the page');\n",
        ),
        other => Response::text(404, &format!("no resource at {other}")),
    }
}

/// `/chunked`: a body sent in chunks (the server encodes it).
pub fn chunked(_: &Request) -> Response {
    let body: String = (1..=200)
        .map(|i| format!("line {i} of a chunked response\n"))
        .collect();
    Response::with_body(200, "text/plain; charset=utf-8", body)
        .header("Transfer-Encoding", "chunked")
}

/// What every variant of the site serves itself.
fn edge(root: Option<PathBuf>) -> Router {
    let router = Router::new()
        .get("/", |_: &Request| {
            Response::with_body(200, "text/html; charset=utf-8", INDEX)
        })
        .post("/echo", echo)
        .put("/echo", echo)
        .get("/status/{code}", status)
        .get("/delay/{ms}", delay)
        .get("/push", push_page)
        .get("/push/{file}", push_resource)
        .get("/chunked", chunked);
    match root {
        Some(dir) => router.fallback(move |req: &Request| files::serve(&dir, req)),
        None => router,
    }
}

/// One process serves it all.
pub fn monolith(store: Store, root: Option<PathBuf>) -> Router {
    let s = store.clone();
    let s2 = store.clone();
    rest::routes(edge(root), Arc::new(store))
        .get("/soap", move |req: &Request| soap::handle(&s, req))
        .post("/soap", move |req: &Request| soap::handle(&s2, req))
}

/// The notes service alone: REST and SOAP over its own store.
pub fn notes_service(store: Store) -> Router {
    let s = store.clone();
    let s2 = store.clone();
    rest::routes(Router::new(), Arc::new(store))
        .get("/soap", move |req: &Request| soap::handle(&s, req))
        .post("/soap", move |req: &Request| soap::handle(&s2, req))
}

/// The gateway over a notes service it reaches through [`Notes`] calls (gRPC): the REST and
/// SOAP interfaces are the monolith's own, each operation a remote call.
pub fn gateway_to(notes: Arc<dyn Notes>, root: Option<PathBuf>) -> Router {
    let (n1, n2) = (notes.clone(), notes.clone());
    rest::routes(edge(root), notes)
        .get("/soap", move |req: &Request| soap::handle(n1.as_ref(), req))
        .post("/soap", move |req: &Request| soap::handle(n2.as_ref(), req))
}

/// The gateway: the edge routes itself, the notes through `upstream`, a handler that
/// forwards each request over the network (`http1::client::Upstream` over HTTP/1.1) and
/// answers 502 when the service fails. Which protocol carries the hop is the upstream's
/// business, not the gateway's.
pub fn gateway(upstream: impl Handler, root: Option<PathBuf>) -> Router {
    let upstream: Arc<dyn Handler> = Arc::new(upstream);
    let mut router = edge(root);
    for method in ["GET", "POST", "PUT", "DELETE"] {
        for path in ["/api/notes", "/api/notes/{id}", "/soap"] {
            let up = upstream.clone();
            router = router.route(method, path, move |req: &Request| up.handle(req));
        }
    }
    router
}
