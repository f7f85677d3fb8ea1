//! The \[L7\] HTTP/1.1 section of `netlab tour`: a GET, a REST round trip, a SOAP call, https
//! with a fresh local CA, and a request through the proxy. Servers run in this process on
//! loopback ports the kernel picks; the trace narrates every head.

use super::client::{Client, Options, Outgoing};
use super::proxy::{self, ProxyConfig};
use super::server::{self, Config};
use crate::guide::{Guide, TempDir, TourError};
use crate::http::message::Response;
use crate::http::services::{app, notes::Store};
use crate::http::uri::Url;
use crate::l4::background::Background;
use crate::tls;
use std::net::TcpListener;
use std::sync::Arc;

fn listener(g: &Guide) -> Result<TcpListener, TourError> {
    TcpListener::bind("127.0.0.1:0").map_err(|e| g.fail("bind", e))
}

fn send(
    g: &Guide,
    client: &mut Client,
    method: &str,
    url: &str,
    ctype: Option<&str>,
    body: &str,
) -> Result<Response, TourError> {
    let u = Url::parse(url).map_err(|e| g.fail(url, e))?;
    let mut req = Outgoing::new(method, u);
    if let Some(ct) = ctype {
        req.headers.append("Content-Type", ct);
    }
    if method == "POST" && url.ends_with("/soap") {
        req.headers
            .append("SOAPAction", "\"urn:netlab:notes#CreateNote\"");
    }
    req.body = body.as_bytes().to_vec();
    client
        .send(&req)
        .map_err(|e| g.fail(&format!("{method} {url}"), e))
}

fn expect(g: &mut Guide, what: &str, resp: &Response, status: u16) -> Result<(), TourError> {
    g.say(&format!(
        "{what}: {} {} — {}",
        resp.status,
        resp.reason,
        String::from_utf8_lossy(&resp.body).trim()
    ));
    if resp.status != status {
        return Err(g.fail(
            what,
            format!("expected status {status}, got {}", resp.status),
        ));
    }
    Ok(())
}

/// The steps of this section, in the order `run` takes them (`netlab tour --list`; the
/// guide checks that each `g.step` says the same).
pub const STEPS: &[&str] = &[
    "the monolith: pages, /echo, notes over REST and SOAP, one process",
    "GET: request line, Host, and a response with Content-Length",
    "REST: the method says what to do, the URI which note (the connection is reused)",
    "SOAP: every call is a POST to /soap; the envelope names the operation",
    "https: a fresh local CA signs a certificate for localhost; the client trusts the CA",
    "the proxy: absolute-form request, hop-by-hop fields stripped, Via added",
];

/// The \[L7\] HTTP/1.1 section: one method per step, in the order of `STEPS`.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step("the monolith: pages, /echo, notes over REST and SOAP, one process");
    let mut t = Site::start(g)?;
    g.step("GET: request line, Host, and a response with Content-Length");
    t.get(g)?;
    g.step("REST: the method says what to do, the URI which note (the connection is reused)");
    t.rest(g)?;
    g.step("SOAP: every call is a POST to /soap; the envelope names the operation");
    t.soap(g)?;
    g.step("https: a fresh local CA signs a certificate for localhost; the client trusts the CA");
    let secure = https(g)?;
    g.step("the proxy: absolute-form request, hop-by-hop fields stripped, Via added");
    t.proxy(g)?;
    secure.stop();
    t.site.stop();
    Ok(())
}

/// The monolith on a loopback port, and one client kept alive across steps 2 to 4.
struct Site {
    site: Background,
    base: String,
    client: Client,
}

impl Site {
    /// Step 1: the site, on a port the kernel picks.
    fn start(g: &mut Guide) -> Result<Site, TourError> {
        let site = server::spawn(
            listener(g)?,
            Arc::new(app::monolith(Store::new(), None)),
            Config::default(),
            Arc::new(server::plain),
        )
        .map_err(|e| g.fail("start", e))?;
        let base = format!("http://{}", site.addr());
        g.say(&format!("listening on {base}"));
        Ok(Site {
            site,
            base,
            client: Client::new(Options::default()),
        })
    }

    /// Step 2: one GET.
    fn get(&mut self, g: &mut Guide) -> Result<(), TourError> {
        let url = format!("{}/status/200", self.base);
        let r = send(g, &mut self.client, "GET", &url, None, "")?;
        expect(g, "GET /status/200", &r, 200)
    }

    /// Step 3: create, edit, read and delete a note, on the kept-alive connection.
    fn rest(&mut self, g: &mut Guide) -> Result<(), TourError> {
        let json = Some("application/json");
        let calls = [
            ("POST", "/api/notes", json, r#"{"text":"hello REST"}"#, 201),
            ("PUT", "/api/notes/1", json, r#"{"text":"edited"}"#, 200),
            ("GET", "/api/notes/1", None, "", 200),
            ("DELETE", "/api/notes/1", None, "", 204),
        ];
        for (method, path, ctype, body, status) in calls {
            let url = format!("{}{path}", self.base);
            let r = send(g, &mut self.client, method, &url, ctype, body)?;
            expect(g, &format!("{method} {path}"), &r, status)?;
        }
        Ok(())
    }

    /// Step 4: the same store behind SOAP: one POST, the operation in the envelope.
    fn soap(&mut self, g: &mut Guide) -> Result<(), TourError> {
        let envelope = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="urn:netlab:notes"><s:Body><n:CreateNote><n:text>hello SOAP</n:text></n:CreateNote></s:Body></s:Envelope>"#;
        let url = format!("{}/soap", self.base);
        let xml = Some("text/xml; charset=utf-8");
        let r = send(g, &mut self.client, "POST", &url, xml, envelope)?;
        expect(g, "POST /soap CreateNote", &r, 200)
    }

    /// Step 6: a TRACE through the proxy, which the origin echoes with the proxy's Via.
    fn proxy(&mut self, g: &mut Guide) -> Result<(), TourError> {
        let proxy = Background::tcp(listener(g)?, "proxy", |l, stop| {
            proxy::serve(l, ProxyConfig::default(), stop)
        })
        .map_err(|e| g.fail("start proxy", e))?;
        let proxy_url =
            Url::parse(&format!("http://{}", proxy.addr())).map_err(|e| g.fail("proxy URL", e))?;
        let mut via = Client::new(Options {
            proxy: Some(proxy_url),
            ..Options::default()
        });
        let url = format!("{}/through-the-proxy", self.base);
        let r = send(g, &mut via, "TRACE", &url, None, "")?;
        expect(g, "TRACE via the proxy", &r, 200)?;
        if !String::from_utf8_lossy(&r.body).contains("Via: 1.1 netlab") {
            return Err(g.fail("proxy", "the origin did not see the proxy's Via field"));
        }
        proxy.stop();
        Ok(())
    }
}

/// Step 5: a second site over TLS, its certificate signed by a CA made now; the client
/// trusts that CA through a file that lives only as long as this step.
fn https(g: &mut Guide) -> Result<Background, TourError> {
    let (tls_config, made) =
        tls::server_config(None, &[b"http/1.1"]).map_err(|e| g.fail("TLS config", e))?;
    let pki = made.ok_or_else(|| g.fail("TLS config", "no certificate was made"))?;
    let dir = TempDir::new("https").map_err(|e| g.fail("temp dir", e))?;
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).map_err(|e| g.fail("write the CA", e))?;
    let accept =
        move |tcp| tls::accept(tls_config.clone(), tcp, Config::default().head_timeout).ok();
    let secure = server::spawn(
        listener(g)?,
        Arc::new(app::monolith(Store::new(), None)),
        Config::default(),
        Arc::new(accept),
    )
    .map_err(|e| g.fail("start https", e))?;
    let mut tls_client = Client::new(Options {
        cacert: Some(ca),
        ..Options::default()
    });
    let url = format!("https://localhost:{}/status/200", secure.addr().port());
    let r = send(g, &mut tls_client, "GET", &url, None, "")?;
    expect(g, "GET https://localhost/status/200", &r, 200)?;
    Ok(secure)
}
