//! The notes as a SOAP 1.1 service (W3C Note "SOAP 1.1", §4 envelope, §6 HTTP binding), with
//! a WSDL 1.1 description (document/literal) at `GET /soap?wsdl`.
//!
//! Where REST puts the operation in the method and the resource in the URI, SOAP posts every
//! call to one URI and names the operation inside an XML envelope (and in `SOAPAction`).
//! Errors travel as `soap:Fault` elements with HTTP status 500 (§6.2), whatever the cause.

use super::notes::{Notes, Unreachable};
use crate::http::message::{Request, Response};
use roxmltree::{Document, Node};

pub const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NOTES_NS: &str = "urn:netlab:notes";
const XML: &str = "text/xml; charset=utf-8";

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all, nor U+FFFE and U+FFFF
            // (XML 1.0 §2.2, Char).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<soap:Envelope xmlns:soap=\"{ENVELOPE_NS}\" xmlns:n=\"{NOTES_NS}\"><soap:Body>{body}</soap:Body></soap:Envelope>\n"
    )
}

/// A SOAP fault: `Client` when the request was wrong, `Server` when we failed (§4.4.1).
pub fn fault(code: &str, message: &str) -> Response {
    let body = format!(
        "<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{}</faultstring></soap:Fault>",
        escape(message)
    );
    Response::with_body(500, XML, envelope(&body))
}

fn note_xml(id: u64, text: &str) -> String {
    format!(
        "<n:note><n:id>{id}</n:id><n:text>{}</n:text></n:note>",
        escape(text)
    )
}

fn ok(op: &str, inner: &str) -> Response {
    Response::with_body(
        200,
        XML,
        envelope(&format!("<n:{op}Response>{inner}</n:{op}Response>")),
    )
}

/// The text of the child element with this local name.
fn child_text(op: Node, name: &str) -> Option<String> {
    op.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .map(|c| c.text().unwrap_or_default().to_string())
}

fn child_id(op: Node) -> Result<u64, Response> {
    let raw = child_text(op, "id").ok_or_else(|| fault("Client", "missing <id>"))?;
    raw.trim()
        .parse()
        .map_err(|_| fault("Client", &format!("<id> must be a number, not '{raw}'")))
}

fn child_note_text(op: Node) -> Result<String, Response> {
    child_text(op, "text").ok_or_else(|| fault("Client", "missing <text>"))
}

/// Handles `POST /soap` (a call) and `GET /soap?wsdl` (the description).
pub fn handle(store: &dyn Notes, req: &Request) -> Response {
    if req.method == "GET" {
        return match req.query() {
            Some(q) if q.eq_ignore_ascii_case("wsdl") => {
                let host = req.headers.get("host").unwrap_or("127.0.0.1");
                Response::with_body(200, XML, wsdl(&format!("http://{host}/soap")))
            }
            _ => Response::text(404, "GET /soap?wsdl for the description; calls are POSTed"),
        };
    }
    if req.method != "POST" {
        return Response::text(405, "SOAP calls are POSTed").header("Allow", "GET, POST, OPTIONS");
    }
    // SOAP 1.1 over HTTP: text/xml, and a SOAPAction field (§6.1.1).
    if req.media_type().as_deref() != Some("text/xml") {
        return fault("Client", "a SOAP 1.1 request has Content-Type: text/xml");
    }
    if !req.headers.contains("soapaction") {
        return fault(
            "Client",
            "the SOAPAction header field is required (SOAP 1.1 §6.1.1)",
        );
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return fault("Client", "the envelope is not UTF-8");
    };
    let doc = match Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            return fault(
                "Client",
                &format!("the envelope is not well-formed XML: {e}"),
            );
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" || root.tag_name().namespace() != Some(ENVELOPE_NS) {
        return fault("VersionMismatch", "the root must be a SOAP 1.1 Envelope");
    }
    let Some(body) = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "Body")
    else {
        return fault("Client", "the envelope has no Body");
    };
    let Some(op) = body.children().find(|c| c.is_element()) else {
        return fault("Client", "the Body names no operation");
    };
    call(store, op).unwrap_or_else(|fault| fault)
}

/// The notes live elsewhere and did not answer: a Server fault (SOAP 1.1 §4.4.1: the
/// message was fine, the processing failed).
fn server_fault(e: Unreachable) -> Response {
    fault("Server", &format!("the notes service failed: {}", e.0))
}

fn call(store: &dyn Notes, op: Node) -> Result<Response, Response> {
    let name = op.tag_name().name();
    Ok(match name {
        "CreateNote" => {
            let text = child_note_text(op)?;
            let id = store.create(&text).map_err(server_fault)?;
            ok(name, &note_xml(id, &text))
        }
        "GetNote" => {
            let id = child_id(op)?;
            let text = store
                .get(id)
                .map_err(server_fault)?
                .ok_or_else(|| fault("Client", &format!("no note with id {id}")))?;
            ok(name, &note_xml(id, &text))
        }
        "ListNotes" => ok(
            name,
            &store
                .list()
                .map_err(server_fault)?
                .iter()
                .map(|(id, t)| note_xml(*id, t))
                .collect::<String>(),
        ),
        "UpdateNote" => {
            let id = child_id(op)?;
            let text = child_note_text(op)?;
            if !store.update(id, &text).map_err(server_fault)? {
                return Err(fault("Client", &format!("no note with id {id}")));
            }
            ok(name, &note_xml(id, &text))
        }
        "DeleteNote" => {
            let id = child_id(op)?;
            if !store.delete(id).map_err(server_fault)? {
                return Err(fault("Client", &format!("no note with id {id}")));
            }
            ok(name, "<n:deleted>true</n:deleted>")
        }
        other => return Err(fault("Client", &format!("unknown operation '{other}'"))),
    })
}

/// The WSDL 1.1 description, document/literal: one element per message.
pub fn wsdl(location: &str) -> String {
    let ops: [(&str, &str, &str); 5] = [
        (
            "CreateNote",
            "<xsd:element name=\"text\" type=\"xsd:string\"/>",
            "<xsd:element name=\"note\" type=\"tns:Note\"/>",
        ),
        (
            "GetNote",
            "<xsd:element name=\"id\" type=\"xsd:long\"/>",
            "<xsd:element name=\"note\" type=\"tns:Note\"/>",
        ),
        (
            "ListNotes",
            "",
            "<xsd:element name=\"note\" type=\"tns:Note\" minOccurs=\"0\" maxOccurs=\"unbounded\"/>",
        ),
        (
            "UpdateNote",
            "<xsd:element name=\"id\" type=\"xsd:long\"/><xsd:element name=\"text\" type=\"xsd:string\"/>",
            "<xsd:element name=\"note\" type=\"tns:Note\"/>",
        ),
        (
            "DeleteNote",
            "<xsd:element name=\"id\" type=\"xsd:long\"/>",
            "<xsd:element name=\"deleted\" type=\"xsd:boolean\"/>",
        ),
    ];
    let mut types = String::new();
    let mut messages = String::new();
    let mut port = String::new();
    let mut binding = String::new();
    for (op, input, output) in ops {
        types.push_str(&format!(
            "<xsd:element name=\"{op}\"><xsd:complexType><xsd:sequence>{input}</xsd:sequence></xsd:complexType></xsd:element>\n\
             <xsd:element name=\"{op}Response\"><xsd:complexType><xsd:sequence>{output}</xsd:sequence></xsd:complexType></xsd:element>\n"
        ));
        messages.push_str(&format!(
            "<wsdl:message name=\"{op}Input\"><wsdl:part name=\"parameters\" element=\"tns:{op}\"/></wsdl:message>\n\
             <wsdl:message name=\"{op}Output\"><wsdl:part name=\"parameters\" element=\"tns:{op}Response\"/></wsdl:message>\n"
        ));
        port.push_str(&format!(
            "<wsdl:operation name=\"{op}\"><wsdl:input message=\"tns:{op}Input\"/><wsdl:output message=\"tns:{op}Output\"/></wsdl:operation>\n"
        ));
        binding.push_str(&format!(
            "<wsdl:operation name=\"{op}\"><soap:operation soapAction=\"{NOTES_NS}#{op}\"/>\
             <wsdl:input><soap:body use=\"literal\"/></wsdl:input><wsdl:output><soap:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="{NOTES_NS}" targetNamespace="{NOTES_NS}" name="Notes">
<wsdl:types>
<xsd:schema targetNamespace="{NOTES_NS}" elementFormDefault="qualified">
<xsd:complexType name="Note"><xsd:sequence><xsd:element name="id" type="xsd:long"/><xsd:element name="text" type="xsd:string"/></xsd:sequence></xsd:complexType>
{types}</xsd:schema>
</wsdl:types>
{messages}<wsdl:portType name="NotesPortType">
{port}</wsdl:portType>
<wsdl:binding name="NotesBinding" type="tns:NotesPortType">
<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{binding}</wsdl:binding>
<wsdl:service name="NotesService">
<wsdl:port name="NotesPort" binding="tns:NotesBinding"><soap:address location="{}"/></wsdl:port>
</wsdl:service>
</wsdl:definitions>
"#,
        escape(location)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::services::notes::Store;

    fn call_soap(store: &dyn Notes, body: &str) -> Response {
        let mut req = Request::new("POST", "/soap");
        req.headers
            .append("Content-Type", "text/xml; charset=utf-8");
        req.headers.append("SOAPAction", "\"urn:netlab:notes#X\"");
        req.body = envelope(body).into_bytes();
        handle(store, &req)
    }

    #[test]
    fn create_get_list_delete() {
        let s = Store::new();
        let r = call_soap(&s, "<n:CreateNote><n:text>a &lt; b</n:text></n:CreateNote>");
        assert_eq!(r.status, 200);
        let body = String::from_utf8(r.body).unwrap();
        assert!(
            body.contains("<n:id>1</n:id><n:text>a &lt; b</n:text>"),
            "{body}"
        );
        assert_eq!(s.get(1).as_deref(), Some("a < b"));
        let r = call_soap(&s, "<n:ListNotes/>");
        assert!(
            String::from_utf8(r.body)
                .unwrap()
                .contains("<n:note><n:id>1</n:id>")
        );
        assert_eq!(
            call_soap(&s, "<n:DeleteNote><n:id>1</n:id></n:DeleteNote>").status,
            200
        );
        let r = call_soap(&s, "<n:GetNote><n:id>1</n:id></n:GetNote>");
        assert_eq!(r.status, 500);
        assert!(
            String::from_utf8(r.body)
                .unwrap()
                .contains("<faultcode>soap:Client</faultcode>")
        );
    }

    #[test]
    fn faults_for_bad_envelopes() {
        let s = Store::new();
        for body in [
            "<n:Nope/>",
            "<n:GetNote><n:id>x</n:id></n:GetNote>",
            "<n:CreateNote/>",
        ] {
            let r = call_soap(&s, body);
            assert_eq!(r.status, 500, "{body}");
        }
        let mut req = Request::new("POST", "/soap");
        req.headers.append("Content-Type", "text/xml");
        req.headers.append("SOAPAction", "x");
        req.body = b"<not xml".to_vec();
        assert!(
            String::from_utf8(handle(&s, &req).body)
                .unwrap()
                .contains("not well-formed")
        );
    }

    #[test]
    fn the_wsdl_is_well_formed() {
        let w = wsdl("http://127.0.0.1:1/soap");
        let doc = Document::parse(&w).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "definitions");
        assert!(w.contains("soapAction=\"urn:netlab:notes#CreateNote\""));
    }
}
