//! Tests of the HTTP/1.1 layer: one file per concern, proptests in `props.rs`.

mod chunked;
mod limits;
mod props;
mod request;
mod request_reject;
mod response;
mod write;

use super::*;

/// Parses a complete request with the default limits.
fn req(input: &[u8]) -> RequestHead {
    match parse_request(input, &Limits::default()) {
        Ok(Some((head, n))) => {
            assert_eq!(
                n,
                input.len(),
                "consumed for {:?}",
                input.escape_ascii().to_string()
            );
            head
        }
        other => panic!("{:?}: {other:?}", input.escape_ascii().to_string()),
    }
}

/// The error a request is rejected with.
fn req_err(input: &[u8]) -> Http1Error {
    match parse_request(input, &Limits::default()) {
        Err(e) => e,
        other => panic!("{:?} accepted: {other:?}", input.escape_ascii().to_string()),
    }
}

/// Parses a complete response (`head`: the request was HEAD).
fn resp(input: &[u8], head: bool) -> ResponseHead {
    match parse_response(input, &Limits::default(), head) {
        Ok(Some((h, n))) => {
            assert_eq!(
                n,
                input.len(),
                "consumed for {:?}",
                input.escape_ascii().to_string()
            );
            h
        }
        other => panic!("{:?}: {other:?}", input.escape_ascii().to_string()),
    }
}

/// The error a response is rejected with.
fn resp_err(input: &[u8]) -> Http1Error {
    match parse_response(input, &Limits::default(), false) {
        Err(e) => e,
        other => panic!("{:?} accepted: {other:?}", input.escape_ascii().to_string()),
    }
}

/// A request head `GET http://a.example/ HTTP/1.1` + `Host` + `extra` lines + empty line.
fn get_with(extra: &str) -> Vec<u8> {
    format!("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n{extra}\r\n").into_bytes()
}

/// A `POST` to `http://a.example/up` with `extra` header lines.
fn post_with(extra: &str) -> Vec<u8> {
    format!("POST http://a.example/up HTTP/1.1\r\nHost: a.example\r\n{extra}\r\n").into_bytes()
}
