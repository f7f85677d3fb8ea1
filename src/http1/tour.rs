//! The \[L7\] HTTP/1.1 section of `netlab tour`: a GET, a REST round trip, a SOAP call, https
//! with a fresh local CA, and a request through the proxy. Servers run in this process on
//! loopback ports the kernel picks; the trace narrates every head.

use super::client::{Client, Options, Outgoing};
use super::proxy::{self, ProxyConfig};
use super::server::{self, Config};
use crate::guide::{Guide, TourError};
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

/// The \[L7\] HTTP/1.1 section.
pub fn run(g: &mut Guide) -> Result<(), TourError> {
    g.step("the monolith: pages, /echo, notes over REST and SOAP, one process");
    let l = listener(g)?;
    let site = server::spawn(
        l,
        Arc::new(app::monolith(Store::new(), None)),
        Config::default(),
        Arc::new(server::plain),
    )
    .map_err(|e| g.fail("start", e))?;
    let base = format!("http://{}", site.addr());
    g.say(&format!("listening on {base}"));
    let mut client = Client::new(Options::default());

    g.step("GET: request line, Host, and a response with Content-Length");
    let r = send(
        g,
        &mut client,
        "GET",
        &format!("{base}/status/200"),
        None,
        "",
    )?;
    expect(g, "GET /status/200", &r, 200)?;

    g.step("REST: the method says what to do, the URI which note (the connection is reused)");
    let r = send(
        g,
        &mut client,
        "POST",
        &format!("{base}/api/notes"),
        Some("application/json"),
        r#"{"text":"hello REST"}"#,
    )?;
    expect(g, "POST /api/notes", &r, 201)?;
    let r = send(
        g,
        &mut client,
        "PUT",
        &format!("{base}/api/notes/1"),
        Some("application/json"),
        r#"{"text":"edited"}"#,
    )?;
    expect(g, "PUT /api/notes/1", &r, 200)?;
    let r = send(
        g,
        &mut client,
        "GET",
        &format!("{base}/api/notes/1"),
        None,
        "",
    )?;
    expect(g, "GET /api/notes/1", &r, 200)?;
    let r = send(
        g,
        &mut client,
        "DELETE",
        &format!("{base}/api/notes/1"),
        None,
        "",
    )?;
    expect(g, "DELETE /api/notes/1", &r, 204)?;

    g.step("SOAP: every call is a POST to /soap; the envelope names the operation");
    let envelope = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n="urn:netlab:notes"><s:Body><n:CreateNote><n:text>hello SOAP</n:text></n:CreateNote></s:Body></s:Envelope>"#;
    let r = send(
        g,
        &mut client,
        "POST",
        &format!("{base}/soap"),
        Some("text/xml; charset=utf-8"),
        envelope,
    )?;
    expect(g, "POST /soap CreateNote", &r, 200)?;

    g.step("https: a fresh local CA signs a certificate for localhost; the client trusts the CA");
    let (tls_config, made) =
        tls::server_config(None, &[b"http/1.1"]).map_err(|e| g.fail("TLS config", e))?;
    let pki = made.ok_or_else(|| g.fail("TLS config", "no certificate was made"))?;
    let ca = std::env::temp_dir().join(format!("netlab-tour-ca-{}.pem", std::process::id()));
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
        cacert: Some(ca.clone()),
        ..Options::default()
    });
    let r = send(
        g,
        &mut tls_client,
        "GET",
        &format!("https://localhost:{}/status/200", secure.addr().port()),
        None,
        "",
    )?;
    let _ = std::fs::remove_file(&ca);
    expect(g, "GET https://localhost/status/200", &r, 200)?;

    g.step("the proxy: absolute-form request, hop-by-hop fields stripped, Via added");
    let proxy_l = listener(g)?;
    let proxy = Background::tcp(proxy_l, "proxy", |l, stop| {
        proxy::serve(l, ProxyConfig::default(), stop)
    })
    .map_err(|e| g.fail("start proxy", e))?;
    let proxy_url =
        Url::parse(&format!("http://{}", proxy.addr())).map_err(|e| g.fail("proxy URL", e))?;
    let mut via = Client::new(Options {
        proxy: Some(proxy_url),
        ..Options::default()
    });
    let r = send(
        g,
        &mut via,
        "TRACE",
        &format!("{base}/through-the-proxy"),
        None,
        "",
    )?;
    expect(g, "TRACE via the proxy", &r, 200)?;
    if !String::from_utf8_lossy(&r.body).contains("Via: 1.1 netlab") {
        return Err(g.fail("proxy", "the origin did not see the proxy's Via field"));
    }
    proxy.stop();
    secure.stop();
    site.stop();
    Ok(())
}
