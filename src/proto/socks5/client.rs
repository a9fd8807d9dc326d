//! The client side of [`super`]: what a cloud application sends, and parsers for the
//! server's answers. Used by the tests, the benches and the fuzz target; the same
//! `Ok(None)` / `Ok(Some((msg, consumed)))` contract as the server parsers.

use super::{parse_address, Address, SocksError, AUTH_VERSION, VERSION};
use base64::Engine as _;
use bytes::{BufMut, BytesMut};

/// A parsed server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyMsg {
    /// The raw reply code (see [`super::Reply::from_code`]).
    pub code: u8,
    /// The bound address the server reports.
    pub bound: Address,
    /// The bound port.
    pub port: u16,
}

fn too_long(field: &'static str, len: usize, max: usize) -> SocksError {
    SocksError::FieldTooLong { field, len, max }
}

/// Appends the greeting `05 N METHODS...`.
pub fn write_greeting(methods: &[u8], out: &mut BytesMut) -> Result<(), SocksError> {
    let n = u8::try_from(methods.len()).map_err(|_| too_long("method list", methods.len(), 255))?;
    out.put_slice(&[VERSION, n]);
    out.put_slice(methods);
    Ok(())
}

/// Appends SAP's 0x80 sub-negotiation; the location (if any) goes raw or base64-encoded
/// (standard alphabet, padded), as SAP's documentation does.
pub fn write_sap_auth(
    jwt: &[u8],
    location: Option<&str>,
    base64: bool,
    out: &mut BytesMut,
) -> Result<(), SocksError> {
    let jwt_len =
        u32::try_from(jwt.len()).map_err(|_| too_long("JWT", jwt.len(), u32::MAX as usize))?;
    let loc = match location {
        None => Vec::new(),
        Some(l) if base64 => base64::engine::general_purpose::STANDARD
            .encode(l)
            .into_bytes(),
        Some(l) => l.as_bytes().to_vec(),
    };
    let loc_len = u8::try_from(loc.len()).map_err(|_| too_long("location", loc.len(), 255))?;
    out.put_u8(AUTH_VERSION);
    out.put_u32(jwt_len);
    out.put_slice(jwt);
    out.put_u8(loc_len);
    out.put_slice(&loc);
    Ok(())
}

/// Appends RFC 1929 `01 | len | user | len | password`.
pub fn write_userpass(user: &[u8], password: &[u8], out: &mut BytesMut) -> Result<(), SocksError> {
    let ulen = u8::try_from(user.len()).map_err(|_| too_long("user name", user.len(), 255))?;
    let plen =
        u8::try_from(password.len()).map_err(|_| too_long("password", password.len(), 255))?;
    out.put_slice(&[AUTH_VERSION, ulen]);
    out.put_slice(user);
    out.put_u8(plen);
    out.put_slice(password);
    Ok(())
}

/// Appends a request with command byte `command` (CONNECT is 1).
pub fn write_request(
    command: u8,
    address: &Address,
    port: u16,
    out: &mut BytesMut,
) -> Result<(), SocksError> {
    address.check()?;
    out.put_slice(&[VERSION, command, 0x00]);
    address.write(port, out)
}

/// Appends a CONNECT request.
pub fn write_connect(address: &Address, port: u16, out: &mut BytesMut) -> Result<(), SocksError> {
    write_request(1, address, port, out)
}

/// Parses the method choice `05 M`; returns `M` (0xFF means none was acceptable).
pub fn parse_method_choice(buf: &[u8]) -> Result<Option<(u8, usize)>, SocksError> {
    match buf {
        [] | [_] => match buf.first() {
            Some(&v) if v != VERSION => Err(SocksError::BadVersion { got: v }),
            _ => Ok(None),
        },
        [v, m, ..] if *v == VERSION => Ok(Some((*m, 2))),
        [v, ..] => Err(SocksError::BadVersion { got: *v }),
    }
}

/// Parses a sub-negotiation status `01 S`; returns true for success (`S` = 0).
pub fn parse_auth_status(buf: &[u8]) -> Result<Option<(bool, usize)>, SocksError> {
    match buf {
        [] => Ok(None),
        [v, ..] if *v != AUTH_VERSION => Err(SocksError::BadAuthVersion { got: *v }),
        [_] => Ok(None),
        [_, s, ..] => Ok(Some((*s == 0, 2))),
    }
}

/// Parses the reply `05 REP 00 ATYP BND.ADDR BND.PORT`.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(ReplyMsg, usize)>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(SocksError::BadVersion { got: version });
    }
    let Some(&code) = buf.get(1) else {
        return Ok(None);
    };
    let Some(&rsv) = buf.get(2) else {
        return Ok(None);
    };
    if rsv != 0 {
        return Err(SocksError::ReservedNotZero { got: rsv });
    }
    let Some((bound, port, used)) = parse_address(buf.get(3..).unwrap_or_default())? else {
        return Ok(None);
    };
    Ok(Some((ReplyMsg { code, bound, port }, 3 + used)))
}
