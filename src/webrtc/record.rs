//! DTLS 1.2 records as the trace shows them (RFC 6347 §4.1, handshake messages §4.2.2):
//! content type, epoch and sequence number, and for handshake records in epoch 0 the
//! message inside (ClientHello, HelloVerifyRequest, Certificate …). Epoch 1 and later are
//! encrypted: only their length is visible, as in a capture.
//!
//! ```text
//!  | type (8) | version (16) | epoch (16) | sequence number (48) | length (16) | fragment |
//! ```

/// RFC 5246 §7.4 / RFC 6347 §4.3.2 handshake message names.
fn handshake_name(t: u8) -> String {
    match t {
        0 => "HelloRequest".into(),
        1 => "ClientHello".into(),
        2 => "ServerHello".into(),
        3 => "HelloVerifyRequest".into(),
        11 => "Certificate".into(),
        12 => "ServerKeyExchange".into(),
        13 => "CertificateRequest".into(),
        14 => "ServerHelloDone".into(),
        15 => "CertificateVerify".into(),
        16 => "ClientKeyExchange".into(),
        20 => "Finished".into(),
        t => format!("handshake type {t}"),
    }
}

/// One entry per record of a datagram (several records often share one datagram: a flight).
pub fn describe(datagram: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 13 <= datagram.len() {
        let ty = datagram[at];
        let epoch = u16::from_be_bytes([datagram[at + 3], datagram[at + 4]]);
        let len = u16::from_be_bytes([datagram[at + 11], datagram[at + 12]]) as usize;
        let body = &datagram[at + 13..datagram.len().min(at + 13 + len)];
        let line = match (ty, epoch) {
            (20, _) => "ChangeCipherSpec".to_string(),
            (21, 0) if body.len() >= 2 => {
                format!("Alert level={} description={}", body[0], body[1])
            }
            (21, _) => format!("Alert (encrypted, {len} bytes)"),
            (22, 0) if !body.is_empty() => handshake_name(body[0]),
            (22, e) => format!("handshake epoch={e} (encrypted, {len} bytes: Finished)"),
            (23, _) => format!("application_data {len} bytes"),
            (t, _) => format!("record type {t}, {len} bytes"),
        };
        out.push(line);
        at += 13 + len;
    }
    if at < datagram.len() {
        out.push(format!(
            "{} trailing bytes that are no DTLS record",
            datagram.len() - at
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_is_one_line_per_record() {
        let mut d = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
        d.extend_from_slice(&[20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]);
        d.extend_from_slice(&[23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 2, 0, 3, 9, 9, 9]);
        assert_eq!(
            describe(&d),
            [
                "ClientHello",
                "ChangeCipherSpec",
                "application_data 3 bytes"
            ]
        );
        assert_eq!(
            describe(&[22, 1]),
            ["2 trailing bytes that are no DTLS record"]
        );
    }
}
