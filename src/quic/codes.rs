//! Error codes by name: QUIC transport errors (RFC 9000 §20.1), HTTP/3 errors (RFC 9114
//! §8.1) and QPACK errors (RFC 9204 §6), for the trace and for error messages. A
//! CONNECTION_CLOSE frame carries one number; which table it comes from depends on the
//! frame's type (0x1c transport, 0x1d application), which quiche reports as `is_app`.

/// The name of a transport error code (CONNECTION_CLOSE type 0x1c).
pub fn transport(code: u64) -> String {
    let name = match code {
        0x00 => "NO_ERROR",
        0x01 => "INTERNAL_ERROR",
        0x02 => "CONNECTION_REFUSED",
        0x03 => "FLOW_CONTROL_ERROR",
        0x04 => "STREAM_LIMIT_ERROR",
        0x05 => "STREAM_STATE_ERROR",
        0x06 => "FINAL_SIZE_ERROR",
        0x07 => "FRAME_ENCODING_ERROR",
        0x08 => "TRANSPORT_PARAMETER_ERROR",
        0x09 => "CONNECTION_ID_LIMIT_ERROR",
        0x0a => "PROTOCOL_VIOLATION",
        0x0b => "INVALID_TOKEN",
        0x0c => "APPLICATION_ERROR",
        0x0d => "CRYPTO_BUFFER_EXCEEDED",
        0x0e => "KEY_UPDATE_ERROR",
        0x0f => "AEAD_LIMIT_REACHED",
        0x10 => "NO_VIABLE_PATH",
        // "The cryptographic handshake failed. A range of 256 values is reserved for
        // carrying error codes specific to the cryptographic handshake" (RFC 9001 §4.8:
        // 0x0100 + the TLS alert).
        0x100..=0x1ff => return format!("CRYPTO_ERROR (TLS alert {})", tls_alert(code as u8)),
        _ => return format!("unknown transport error 0x{code:x}"),
    };
    name.to_string()
}

/// The name of an application error code as HTTP/3 defines them (CONNECTION_CLOSE type
/// 0x1d, RESET_STREAM, STOP_SENDING).
pub fn application(code: u64) -> String {
    let name = match code {
        0x100 => "H3_NO_ERROR",
        0x101 => "H3_GENERAL_PROTOCOL_ERROR",
        0x102 => "H3_INTERNAL_ERROR",
        0x103 => "H3_STREAM_CREATION_ERROR",
        0x104 => "H3_CLOSED_CRITICAL_STREAM",
        0x105 => "H3_FRAME_UNEXPECTED",
        0x106 => "H3_FRAME_ERROR",
        0x107 => "H3_EXCESSIVE_LOAD",
        0x108 => "H3_ID_ERROR",
        0x109 => "H3_SETTINGS_ERROR",
        0x10a => "H3_MISSING_SETTINGS",
        0x10b => "H3_REQUEST_REJECTED",
        0x10c => "H3_REQUEST_CANCELLED",
        0x10d => "H3_REQUEST_INCOMPLETE",
        0x10e => "H3_MESSAGE_ERROR",
        0x10f => "H3_CONNECT_ERROR",
        0x110 => "H3_VERSION_FALLBACK",
        0x200 => "QPACK_DECOMPRESSION_FAILED",
        0x201 => "QPACK_ENCODER_STREAM_ERROR",
        0x202 => "QPACK_DECODER_STREAM_ERROR",
        _ => return format!("application error 0x{code:x}"),
    };
    name.to_string()
}

/// HTTP/3's "no error": how a client ends a connection it has finished with.
pub const H3_NO_ERROR: u64 = 0x100;
/// HTTP/3's catch-all (RFC 9114 §8.1).
pub const H3_GENERAL_PROTOCOL_ERROR: u64 = 0x101;
/// HTTP/3's "the server failed" on one stream (RFC 9114 §8.1): a file body that could not
/// be read to its announced length.
pub const H3_INTERNAL_ERROR: u64 = 0x102;
/// QUIC's INTERNAL_ERROR (RFC 9000 §20.1): the endpoint itself failed.
pub const INTERNAL_ERROR: u64 = 0x1;

/// The TLS alerts a QUIC handshake is likely to end with (RFC 8446 §6).
fn tls_alert(alert: u8) -> String {
    let name = match alert {
        10 => "unexpected_message",
        20 => "bad_record_mac",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        80 => "internal_error",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return alert.to_string(),
    };
    format!("{alert} {name}")
}

/// One CONNECTION_CLOSE, as the trace and errors show it.
pub fn describe_close(is_app: bool, code: u64, reason: &[u8]) -> String {
    let (kind, name) = if is_app {
        ("application", application(code))
    } else {
        ("transport", transport(code))
    };
    let mut s = format!("{kind} {name} (0x{code:x})");
    if !reason.is_empty() {
        s.push_str(&format!(" reason {}", crate::trace::quoted(reason, 80)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_rfc_tables() {
        assert_eq!(transport(0), "NO_ERROR");
        assert_eq!(transport(0x0b), "INVALID_TOKEN");
        assert_eq!(
            transport(0x178),
            "CRYPTO_ERROR (TLS alert 120 no_application_protocol)"
        );
        assert_eq!(
            transport(0x12a),
            "CRYPTO_ERROR (TLS alert 42 bad_certificate)"
        );
        assert_eq!(transport(0x999), "unknown transport error 0x999");
        assert_eq!(application(0x100), "H3_NO_ERROR");
        assert_eq!(application(0x10e), "H3_MESSAGE_ERROR");
        assert_eq!(application(0x200), "QPACK_DECOMPRESSION_FAILED");
        assert_eq!(application(7), "application error 0x7");
        assert_eq!(
            describe_close(false, 0x0a, b""),
            "transport PROTOCOL_VIOLATION (0xa)"
        );
        assert!(
            describe_close(true, 0x100, b"done")
                .starts_with("application H3_NO_ERROR (0x100) reason ")
        );
    }
}
