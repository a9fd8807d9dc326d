//! The one error type of the SOCKS5 layer.

use super::Reply;
use std::fmt;

/// Why a SOCKS5 message was rejected (or could not be written).
///
/// After any error the connection is answered (where the protocol has an answer) and closed:
/// what follows a malformed message cannot be framed. [`SocksError::reply`] is the reply code
/// a server sends when the error happens in the request phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocksError {
    /// The first byte of a greeting or request is not 5 (SOCKS version 5).
    BadVersion {
        /// The version byte received.
        got: u8,
    },
    /// The first byte of a sub-negotiation (0x80 or RFC 1929) is not 1.
    BadAuthVersion {
        /// The version byte received.
        got: u8,
    },
    /// A greeting that offers no method at all (`NMETHODS` = 0).
    NoMethods,
    /// The 0x80 JWT is longer than the configured cap.
    JwtTooLong {
        /// Length announced by the client.
        len: u32,
        /// The configured cap.
        max: u32,
    },
    /// The 0x80 JWT is empty.
    EmptyJwt,
    /// The 0x80 location is neither a valid location name nor base64 of one.
    InvalidLocation {
        /// What is wrong with the raw value.
        reason: String,
    },
    /// RFC 1929: the user name is empty.
    EmptyUsername,
    /// The request's reserved byte is not 0.
    ReservedNotZero {
        /// The byte received.
        got: u8,
    },
    /// A request command other than CONNECT (1), BIND (2) and UDP ASSOCIATE (3).
    UnsupportedCommand {
        /// The command byte received.
        got: u8,
    },
    /// An address type other than IPv4 (1), domain (3) and IPv6 (4).
    UnsupportedAddressType {
        /// The ATYP byte received.
        got: u8,
    },
    /// A domain name that is empty or holds bytes a host name cannot have.
    InvalidDomain,
    /// A field is too long to be written in its length prefix (client side and writers).
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the wire format can carry.
        max: usize,
    },
}

impl SocksError {
    /// The reply code a server sends for this error in the request phase (RFC 1928 §6 with
    /// SAP's meanings): 0x07 for an unknown command, 0x08 for an unknown address type, 0x01
    /// otherwise.
    pub fn reply(&self) -> Reply {
        match self {
            SocksError::UnsupportedCommand { .. } => Reply::CommandNotSupported,
            SocksError::UnsupportedAddressType { .. } => Reply::AddressTypeNotSupported,
            _ => Reply::GeneralFailure,
        }
    }
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::BadVersion { got } => write!(
                f,
                "SOCKS version byte is {got:#04x}; only SOCKS5 (0x05) is served on this port"
            ),
            SocksError::BadAuthVersion { got } => write!(
                f,
                "authentication sub-negotiation version is {got:#04x}; it must be 0x01"
            ),
            SocksError::NoMethods => {
                f.write_str("SOCKS5 greeting offers no authentication method (NMETHODS = 0)")
            }
            SocksError::JwtTooLong { len, max } => write!(
                f,
                "0x80 authentication: JWT of {len} bytes exceeds the limit of {max} bytes"
            ),
            SocksError::EmptyJwt => f.write_str("0x80 authentication: the JWT is empty"),
            SocksError::InvalidLocation { reason } => write!(
                f,
                "0x80 authentication: location is neither a valid location name nor base64 \
                 of one: {reason}"
            ),
            SocksError::EmptyUsername => {
                f.write_str("username/password authentication: the user name is empty")
            }
            SocksError::ReservedNotZero { got } => write!(
                f,
                "SOCKS5 request: reserved byte is {got:#04x}; it must be 0x00"
            ),
            SocksError::UnsupportedCommand { got } => write!(
                f,
                "SOCKS5 request: command {got:#04x} is unknown (CONNECT is 0x01)"
            ),
            SocksError::UnsupportedAddressType { got } => write!(
                f,
                "SOCKS5 request: address type {got:#04x} is unknown (IPv4 0x01, domain 0x03, \
                 IPv6 0x04)"
            ),
            SocksError::InvalidDomain => f.write_str(
                "SOCKS5 request: the domain name is empty or has bytes other than letters, \
                 digits, `.`, `-` and `_`",
            ),
            SocksError::FieldTooLong { field, len, max } => {
                write!(
                    f,
                    "SOCKS5 {field} of {len} bytes does not fit (at most {max})"
                )
            }
        }
    }
}

impl std::error::Error for SocksError {}
