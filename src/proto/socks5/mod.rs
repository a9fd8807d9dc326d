//! SOCKS5 (RFC 1928) as SAP's connectivity proxy speaks it, sans-IO.
//!
//! Server side: each `parse_*` takes the bytes received so far and returns `Ok(None)` when
//! more are needed, `Ok(Some((message, consumed)))` when a whole message is there, or a
//! [`SocksError`]. Nothing is buffered here and no length prefix is trusted before it is
//! checked against its cap. The writers append the server's answers to a [`BytesMut`].
//! [`client`] holds the mirror image, used by tests, benches and the fuzz target.
//!
//! ```text
//! client                                   server
//! 05 n m1..mn              greeting  ──►
//!                          ◄── choice      05 m          (m = 0xFF: nothing acceptable; close)
//! 0x80: 01 | u32 len | jwt | u8 len | loc  ──►           (SAP: JWT + optional location)
//! 0x02: 01 | u8 len | user | u8 len | pass ──►           (RFC 1929)
//!                          ◄── status      01 00 (ok) / 01 01 (failure; close)
//! 05 cmd 00 atyp addr port  request  ──►
//!                          ◄── reply       05 rep 00 atyp addr port
//! ```

pub mod client;
mod error;
#[cfg(test)]
mod tests;

pub use error::SocksError;

use base64::Engine as _;
use bytes::{BufMut, BytesMut};
use core::net::{Ipv4Addr, Ipv6Addr};
use std::fmt;

/// The SOCKS protocol version this module speaks.
pub const VERSION: u8 = 0x05;
/// Version byte of the authentication sub-negotiations (RFC 1929 and SAP's 0x80).
pub const AUTH_VERSION: u8 = 0x01;

/// Authentication methods (RFC 1928 §3 and SAP's private method).
pub mod method {
    /// No authentication: accepted only for a tenant configured as trusted.
    pub const NO_AUTH: u8 = 0x00;
    /// Username/password (RFC 1929).
    pub const USERPASS: u8 = 0x02;
    /// SAP's method: a JWT and an optional location ID.
    pub const SAP_JWT: u8 = 0x80;
    /// "No acceptable methods": the server closes after sending it.
    pub const NONE_ACCEPTABLE: u8 = 0xFF;
}

/// A location name: 1 to 63 bytes of `a-z 0-9 . _ -`, not starting with `.` or `-` (the rule
/// certificate identities follow, see `tls::check_name`).
pub const MAX_LOCATION_LEN: usize = 63;

/// The client's greeting: the methods it offers, in its order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// Offered method bytes (1 to 255 of them).
    pub methods: Vec<u8>,
}

impl Greeting {
    /// True if the client offered `method`.
    pub fn offers(&self, method: u8) -> bool {
        self.methods.contains(&method)
    }
}

/// SAP's 0x80 sub-negotiation: a JWT and the location the client asks for.
#[derive(Clone, PartialEq, Eq)]
pub struct SapAuth {
    /// The raw JWT (compact serialisation), not yet verified.
    pub jwt: Vec<u8>,
    /// The location, decoded and validated; `None` when the client sent none (the tenant's
    /// default applies).
    pub location: Option<String>,
}

impl fmt::Debug for SapAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A bearer token is a credential: never in logs.
        f.debug_struct("SapAuth")
            .field("jwt_len", &self.jwt.len())
            .field("location", &self.location)
            .finish()
    }
}

/// RFC 1929 credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct UserPass {
    /// The user name (1 to 255 bytes).
    pub username: Vec<u8>,
    /// The password (0 to 255 bytes).
    pub password: Vec<u8>,
}

impl fmt::Debug for UserPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPass")
            .field("username", &String::from_utf8_lossy(&self.username))
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A request command (RFC 1928 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// CONNECT (0x01): the only command served.
    Connect,
    /// BIND (0x02): parsed, answered with [`Reply::CommandNotSupported`].
    Bind,
    /// UDP ASSOCIATE (0x03): parsed, answered with [`Reply::CommandNotSupported`].
    UdpAssociate,
}

impl Command {
    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Command::Connect => 1,
            Command::Bind => 2,
            Command::UdpAssociate => 3,
        }
    }
}

/// A request's destination (or a reply's bound address).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// ATYP 0x01.
    V4(Ipv4Addr),
    /// ATYP 0x04.
    V6(Ipv6Addr),
    /// ATYP 0x03: a host name (validated: letters, digits, `.`, `-`, `_`; 1 to 255 bytes).
    Domain(String),
}

impl Address {
    /// The unspecified IPv4 address, for replies that bind nothing.
    pub const UNSPECIFIED: Address = Address::V4(Ipv4Addr::UNSPECIFIED);

    /// `host:port` as an HTTP `:authority` (IPv6 in brackets).
    pub fn authority(&self, port: u16) -> String {
        match self {
            Address::V4(a) => format!("{a}:{port}"),
            Address::V6(a) => format!("[{a}]:{port}"),
            Address::Domain(d) => format!("{d}:{port}"),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Address::V4(_) => 1 + 4,
            Address::V6(_) => 1 + 16,
            Address::Domain(d) => 1 + 1 + d.len(),
        }
    }

    /// Fails for a domain name the one-byte length prefix cannot carry.
    fn check(&self) -> Result<(), SocksError> {
        match self {
            Address::Domain(d) if d.len() > 255 => Err(SocksError::FieldTooLong {
                field: "domain name",
                len: d.len(),
                max: 255,
            }),
            _ => Ok(()),
        }
    }

    /// Appends `ATYP addr port` (call [`Address::check`] first: nothing is written on error).
    fn write(&self, port: u16, out: &mut BytesMut) -> Result<(), SocksError> {
        self.check()?;
        match self {
            Address::V4(a) => {
                out.put_u8(0x01);
                out.put_slice(&a.octets());
            }
            Address::V6(a) => {
                out.put_u8(0x04);
                out.put_slice(&a.octets());
            }
            Address::Domain(d) => {
                out.put_u8(0x03);
                out.put_u8(u8::try_from(d.len()).unwrap_or(u8::MAX));
                out.put_slice(d.as_bytes());
            }
        }
        out.put_u16(port);
        Ok(())
    }
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// What the client asks for.
    pub command: Command,
    /// The destination: a virtual host of the tenant.
    pub address: Address,
    /// The destination port.
    pub port: u16,
}

/// Reply codes, with the meaning SAP's connectivity proxy gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// 0x00: the stream is open.
    Succeeded,
    /// 0x01: general failure (anything not listed below).
    GeneralFailure,
    /// 0x02 ("not allowed by ruleset"): no mapping for this virtual host and port, or the
    /// host belongs to another tenant (the two answer the same).
    NoMapping,
    /// 0x03 ("network unreachable"): no connector for the tenant and location.
    NoConnector,
    /// 0x04 ("host unreachable"): the connector could not reach the backend.
    BackendUnreachable,
    /// 0x05 ("connection refused"): authentication failure.
    AuthenticationFailed,
    /// 0x07: command not supported (only CONNECT is).
    CommandNotSupported,
    /// 0x08: address type not supported.
    AddressTypeNotSupported,
}

impl Reply {
    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Reply::Succeeded => 0x00,
            Reply::GeneralFailure => 0x01,
            Reply::NoMapping => 0x02,
            Reply::NoConnector => 0x03,
            Reply::BackendUnreachable => 0x04,
            Reply::AuthenticationFailed => 0x05,
            Reply::CommandNotSupported => 0x07,
            Reply::AddressTypeNotSupported => 0x08,
        }
    }

    /// The reply for a wire byte, if it is one of the codes above.
    pub fn from_code(code: u8) -> Option<Reply> {
        Some(match code {
            0x00 => Reply::Succeeded,
            0x01 => Reply::GeneralFailure,
            0x02 => Reply::NoMapping,
            0x03 => Reply::NoConnector,
            0x04 => Reply::BackendUnreachable,
            0x05 => Reply::AuthenticationFailed,
            0x07 => Reply::CommandNotSupported,
            0x08 => Reply::AddressTypeNotSupported,
            _ => return None,
        })
    }
}

// ----- server side: parsers -----

/// Parses the greeting `05 NMETHODS METHODS...`.
pub fn parse_greeting(buf: &[u8]) -> Result<Option<(Greeting, usize)>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(SocksError::BadVersion { got: version });
    }
    let Some(&n) = buf.get(1) else {
        return Ok(None);
    };
    if n == 0 {
        return Err(SocksError::NoMethods);
    }
    let end = 2 + usize::from(n);
    let Some(methods) = buf.get(2..end) else {
        return Ok(None);
    };
    Ok(Some((
        Greeting {
            methods: methods.to_vec(),
        },
        end,
    )))
}

/// Parses SAP's 0x80 sub-negotiation `01 | u32 BE len | jwt | u8 len | location`.
///
/// A JWT longer than `max_jwt` is refused as soon as its length is known, before its bytes
/// arrive. The location is taken as base64 when it is valid base64 (standard or URL-safe,
/// padded or not) of a valid location name, else as the raw name, which must then be valid
/// itself (SAP's documentation sends base64, SAP's JavaScript SDK sends it raw). A raw name
/// that happens to be base64 of another valid name is read as the decoded one; with names of
/// `a-z 0-9 . _ -` this needs a 4-multiple-length name made only of base64 characters that
/// decodes to lower-case text, which no realistic name does.
pub fn parse_sap_auth(buf: &[u8], max_jwt: u32) -> Result<Option<(SapAuth, usize)>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != AUTH_VERSION {
        return Err(SocksError::BadAuthVersion { got: version });
    }
    let Some(len) = buf.get(1..5) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    if len > max_jwt {
        return Err(SocksError::JwtTooLong { len, max: max_jwt });
    }
    if len == 0 {
        return Err(SocksError::EmptyJwt);
    }
    // `len <= max_jwt` fits usize on every platform we build for; saturate rather than wrap.
    let jwt_end = 5usize.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
    let Some(jwt) = buf.get(5..jwt_end) else {
        return Ok(None);
    };
    let Some(&loc_len) = buf.get(jwt_end) else {
        return Ok(None);
    };
    let end = jwt_end + 1 + usize::from(loc_len);
    let Some(raw) = buf.get(jwt_end + 1..end) else {
        return Ok(None);
    };
    let location = if raw.is_empty() {
        None
    } else {
        Some(decode_location(raw)?)
    };
    Ok(Some((
        SapAuth {
            jwt: jwt.to_vec(),
            location,
        },
        end,
    )))
}

/// The location in a 0x80 message: base64 of a valid name, else a valid raw name.
fn decode_location(raw: &[u8]) -> Result<String, SocksError> {
    use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
    for engine in [STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT] {
        if let Ok(decoded) = engine.decode(raw) {
            if check_location(&decoded).is_ok() {
                return Ok(String::from_utf8_lossy(&decoded).into_owned());
            }
        }
    }
    match check_location(raw) {
        Ok(()) => Ok(String::from_utf8_lossy(raw).into_owned()),
        Err(reason) => Err(SocksError::InvalidLocation { reason }),
    }
}

/// Checks a location name (see [`MAX_LOCATION_LEN`]); the error says what is wrong.
pub fn check_location(name: &[u8]) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_LOCATION_LEN {
        return Err(format!(
            "must be 1 to {MAX_LOCATION_LEN} bytes long (is {})",
            name.len()
        ));
    }
    if let Some(b) = name
        .iter()
        .find(|b| !matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "contains byte {b:#04x}; allowed are a-z, 0-9, `.`, `_` and `-`"
        ));
    }
    if matches!(name.first(), Some(b'.' | b'-')) {
        return Err("must not start with `.` or `-`".to_owned());
    }
    Ok(())
}

/// Parses RFC 1929 `01 | u8 len | user | u8 len | password`.
pub fn parse_userpass(buf: &[u8]) -> Result<Option<(UserPass, usize)>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != AUTH_VERSION {
        return Err(SocksError::BadAuthVersion { got: version });
    }
    let Some(&ulen) = buf.get(1) else {
        return Ok(None);
    };
    if ulen == 0 {
        return Err(SocksError::EmptyUsername);
    }
    let user_end = 2 + usize::from(ulen);
    let Some(username) = buf.get(2..user_end) else {
        return Ok(None);
    };
    let Some(&plen) = buf.get(user_end) else {
        return Ok(None);
    };
    let end = user_end + 1 + usize::from(plen);
    let Some(password) = buf.get(user_end + 1..end) else {
        return Ok(None);
    };
    Ok(Some((
        UserPass {
            username: username.to_vec(),
            password: password.to_vec(),
        },
        end,
    )))
}

/// Parses the request `05 CMD 00 ATYP DST.ADDR DST.PORT`.
///
/// An unknown command or address type is an error as soon as its byte arrives (the server
/// answers 0x07 / 0x08 and closes, see [`SocksError::reply`]).
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(SocksError::BadVersion { got: version });
    }
    let Some(&cmd) = buf.get(1) else {
        return Ok(None);
    };
    let command = match cmd {
        1 => Command::Connect,
        2 => Command::Bind,
        3 => Command::UdpAssociate,
        got => return Err(SocksError::UnsupportedCommand { got }),
    };
    let Some(&rsv) = buf.get(2) else {
        return Ok(None);
    };
    if rsv != 0 {
        return Err(SocksError::ReservedNotZero { got: rsv });
    }
    let Some((address, port, used)) = parse_address(buf.get(3..).unwrap_or_default())? else {
        return Ok(None);
    };
    Ok(Some((
        Request {
            command,
            address,
            port,
        },
        3 + used,
    )))
}

/// Parses `ATYP addr port`; shared by the request and (client side) the reply.
fn parse_address(buf: &[u8]) -> Result<Option<(Address, u16, usize)>, SocksError> {
    let Some(&atyp) = buf.first() else {
        return Ok(None);
    };
    let (address, at) = match atyp {
        0x01 => {
            let Some(a) = buf.get(1..5) else {
                return Ok(None);
            };
            (Address::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])), 5)
        }
        0x04 => {
            let Some(a) = buf.get(1..17) else {
                return Ok(None);
            };
            let mut octets = [0u8; 16];
            octets.copy_from_slice(a);
            (Address::V6(Ipv6Addr::from(octets)), 17)
        }
        0x03 => {
            let Some(&len) = buf.get(1) else {
                return Ok(None);
            };
            if len == 0 {
                return Err(SocksError::InvalidDomain);
            }
            let end = 2 + usize::from(len);
            let Some(name) = buf.get(2..end) else {
                return Ok(None);
            };
            if !name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                return Err(SocksError::InvalidDomain);
            }
            (
                Address::Domain(String::from_utf8_lossy(name).into_owned()),
                end,
            )
        }
        got => return Err(SocksError::UnsupportedAddressType { got }),
    };
    let Some(p) = buf.get(at..at + 2) else {
        return Ok(None);
    };
    Ok(Some((address, u16::from_be_bytes([p[0], p[1]]), at + 2)))
}

// ----- server side: writers -----

/// Appends the method choice `05 METHOD` (use [`method::NONE_ACCEPTABLE`] to refuse).
pub fn write_method_choice(method: u8, out: &mut BytesMut) {
    out.put_slice(&[VERSION, method]);
}

/// Appends the sub-negotiation status `01 00` (success) or `01 01` (failure).
pub fn write_auth_status(success: bool, out: &mut BytesMut) {
    out.put_slice(&[AUTH_VERSION, if success { 0x00 } else { 0x01 }]);
}

/// Appends the reply `05 REP 00 ATYP BND.ADDR BND.PORT`.
///
/// Fails only for a domain longer than 255 bytes.
pub fn write_reply(
    reply: Reply,
    bound: &Address,
    port: u16,
    out: &mut BytesMut,
) -> Result<(), SocksError> {
    bound.check()?;
    out.reserve(3 + bound.encoded_len() + 2);
    out.put_slice(&[VERSION, reply.code(), 0x00]);
    bound.write(port, out)
}
