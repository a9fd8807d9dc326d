//! Head size limits: which status, inclusive bounds, early detection.

use super::*;
use Http1Error::*;

#[test]
fn long_request_line_is_414() {
    let limits = Limits::default();
    let long_target = format!("http://a.example/{}", "a".repeat(limits.max_request_line));
    let input = format!("GET {long_target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
    let e = req_err(input.as_bytes());
    assert_eq!(
        (e.clone(), e.status()),
        (RequestLineTooLong { limit: 8192 }, 414)
    );
    // Already known before the line ends.
    let partial = format!("GET {long_target}");
    assert_eq!(parse_request(partial.as_bytes(), &limits), Err(e));
    // One byte below the limit is merely incomplete.
    let ok_len = format!("GET {}", "a".repeat(limits.max_request_line - 4));
    assert_eq!(parse_request(ok_len.as_bytes(), &limits), Ok(None));
}

#[test]
fn large_head_is_431() {
    let limits = Limits::default();
    let big = format!("X-Big: {}\r\n", "v".repeat(limits.max_head));
    let e = req_err(&get_with(&big));
    assert_eq!(
        (e.clone(), e.status()),
        (HeadTooLarge { limit: 65536 }, 431)
    );
    // An unterminated head at the limit is refused without waiting for its end.
    let mut partial = get_with("");
    partial.truncate(partial.len() - 2);
    while partial.len() < limits.max_head {
        partial.extend_from_slice(b"X-Fill: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let small = Limits {
        max_headers: usize::MAX,
        ..limits
    };
    assert_eq!(
        parse_request(&partial, &small),
        Err(HeadTooLarge { limit: 65536 })
    );
    // Exactly at the limit is fine; one byte more is not.
    let input = get_with("X-P: 1\r\n");
    let at = Limits {
        max_head: input.len(),
        ..limits
    };
    assert!(parse_request(&input, &at).unwrap().is_some());
    let under = Limits {
        max_head: input.len() - 1,
        ..limits
    };
    assert_eq!(
        parse_request(&input, &under),
        Err(HeadTooLarge {
            limit: input.len() - 1
        })
    );
    // Endless empty lines before a request count too.
    assert_eq!(
        parse_request(&b"\r\n".repeat(40_000), &limits),
        Err(HeadTooLarge { limit: 65536 })
    );
}

#[test]
fn too_many_headers_is_431() {
    let extra: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    let e = req_err(&get_with(&extra));
    assert_eq!(
        (e.clone(), e.status()),
        (TooManyHeaders { limit: 100 }, 431)
    );
}
