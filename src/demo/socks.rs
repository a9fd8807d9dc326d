//! A small blocking SOCKS5 client for the demo script, the integration tests and the quick
//! bench: greeting, one authentication method, CONNECT, one message per round trip (as a
//! cloud application's SOCKS library does it, no pipelining).

use crate::proto::socks5::{self, client as wire, method, Address};
use bytes::BytesMut;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

/// How the client authenticates at the SOCKS5 door.
#[derive(Clone, Copy, Debug)]
pub enum SocksAuth<'a> {
    /// Method 0x00 (only a trusted tenant admits it).
    Nothing,
    /// Method 0x02, RFC 1929 user name and password.
    User {
        /// The user name.
        name: &'a str,
        /// The password.
        password: &'a str,
    },
    /// Method 0x80 (SAP): a JWT and an optional location, sent raw.
    Jwt {
        /// The compact JWT.
        token: &'a str,
        /// The connector location, if not the tenant's default.
        location: Option<&'a str>,
    },
}

impl SocksAuth<'_> {
    fn method(&self) -> u8 {
        match self {
            SocksAuth::Nothing => method::NO_AUTH,
            SocksAuth::User { .. } => method::USERPASS,
            SocksAuth::Jwt { .. } => method::SAP_JWT,
        }
    }
}

/// Why a SOCKS5 exchange did not end in an open stream.
#[derive(Debug)]
pub enum SocksClientError {
    /// A socket operation failed (the step is named).
    Io(&'static str, std::io::Error),
    /// The server sent something that is not SOCKS5.
    Protocol(String),
    /// The server chose another method than the one offered (0xFF: none acceptable).
    MethodRefused(u8),
    /// Authentication failed (status `01 01`); the reply code that followed, if read.
    AuthRefused(Option<u8>),
    /// The CONNECT was answered with this non-zero reply code.
    Reply(u8),
}

impl std::fmt::Display for SocksClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocksClientError::Io(step, e) => write!(f, "SOCKS5 {step}: {e}"),
            SocksClientError::Protocol(why) => write!(f, "SOCKS5 protocol error: {why}"),
            SocksClientError::MethodRefused(m) => {
                write!(
                    f,
                    "the SOCKS5 door chose method {m:#04x}, not the one offered"
                )
            }
            SocksClientError::AuthRefused(code) => match code {
                Some(c) => write!(f, "SOCKS5 authentication refused (reply {c:#04x})"),
                None => f.write_str("SOCKS5 authentication refused"),
            },
            SocksClientError::Reply(c) => write!(f, "SOCKS5 CONNECT refused with reply {c:#04x}"),
        }
    }
}

impl std::error::Error for SocksClientError {}

fn io(step: &'static str) -> impl FnOnce(std::io::Error) -> SocksClientError {
    move |e| SocksClientError::Io(step, e)
}

fn proto(e: socks5::SocksError) -> SocksClientError {
    SocksClientError::Protocol(e.to_string())
}

/// Reads from `sock` until `parse` yields a message.
fn read_msg<T>(
    sock: &mut TcpStream,
    step: &'static str,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, socks5::SocksError>,
) -> Result<T, SocksClientError> {
    let mut buf = Vec::with_capacity(32);
    let mut tmp = [0u8; 64];
    loop {
        if let Some((msg, _)) = parse(&buf).map_err(proto)? {
            return Ok(msg);
        }
        // Messages are tiny: read at most what one reply can be so no echoed byte is eaten.
        let want = if buf.len() < 2 { 2 - buf.len() } else { 1 };
        let n = loop {
            match sock.read(&mut tmp[..want]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.map_err(io(step))?,
            }
        };
        if n == 0 {
            return Err(SocksClientError::Io(
                step,
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        buf.extend_from_slice(tmp.get(..n).unwrap_or_default());
    }
}

/// Opens a SOCKS5 CONNECT stream through `door` to `host:port`; returns the stream, ready
/// for payload bytes. Sets `TCP_NODELAY` (the handshake is small messages).
pub fn open(
    door: SocketAddr,
    auth: SocksAuth<'_>,
    target: &Address,
    port: u16,
) -> Result<TcpStream, SocksClientError> {
    let mut sock = TcpStream::connect_timeout(&door, TIMEOUT).map_err(io("connect"))?;
    sock.set_nodelay(true).map_err(io("set TCP_NODELAY"))?;
    sock.set_read_timeout(Some(TIMEOUT))
        .map_err(io("set timeout"))?;
    let mut out = BytesMut::with_capacity(64);
    wire::write_greeting(&[auth.method()], &mut out).map_err(proto)?;
    sock.write_all(&out).map_err(io("send greeting"))?;
    let chosen = read_msg(&mut sock, "read method choice", wire::parse_method_choice)?;
    if chosen != auth.method() {
        return Err(SocksClientError::MethodRefused(chosen));
    }
    out.clear();
    match auth {
        SocksAuth::Nothing => {}
        SocksAuth::User { name, password } => {
            wire::write_userpass(name.as_bytes(), password.as_bytes(), &mut out).map_err(proto)?
        }
        SocksAuth::Jwt { token, location } => {
            wire::write_sap_auth(token.as_bytes(), location, false, &mut out).map_err(proto)?
        }
    }
    if !out.is_empty() {
        sock.write_all(&out).map_err(io("send credentials"))?;
        let ok = read_msg(&mut sock, "read auth status", wire::parse_auth_status)?;
        if !ok {
            let code = read_msg(&mut sock, "read reply", wire::parse_reply)
                .ok()
                .map(|r| r.code);
            return Err(SocksClientError::AuthRefused(code));
        }
    }
    out.clear();
    wire::write_connect(target, port, &mut out).map_err(proto)?;
    sock.write_all(&out).map_err(io("send request"))?;
    let reply = read_msg(&mut sock, "read reply", wire::parse_reply)?;
    if reply.code != 0 {
        return Err(SocksClientError::Reply(reply.code));
    }
    Ok(sock)
}

/// Sends `payload` on an open stream, half-closes, and reads until the peer closes; fails
/// unless exactly `payload` came back.
pub fn echo_to_close(sock: &mut TcpStream, payload: &[u8]) -> Result<Vec<u8>, String> {
    sock.write_all(payload).map_err(|e| format!("send: {e}"))?;
    sock.shutdown(Shutdown::Write)
        .map_err(|e| format!("half-close: {e}"))?;
    let mut echo = Vec::with_capacity(payload.len());
    let mut tmp = [0u8; 4096];
    loop {
        match sock.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => echo.extend_from_slice(tmp.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
    if echo != payload {
        return Err(format!(
            "echo differs: sent {} bytes, got {}",
            payload.len(),
            echo.len()
        ));
    }
    Ok(echo)
}

/// [`open`], then [`echo_to_close`]: what came back.
pub fn echo(
    door: SocketAddr,
    auth: SocksAuth<'_>,
    host: &str,
    port: u16,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let mut sock =
        open(door, auth, &Address::Domain(host.into()), port).map_err(|e| e.to_string())?;
    echo_to_close(&mut sock, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server: for each step, reads that many bytes, then writes the
    /// answer; closes after the last.
    fn fake_door(steps: &'static [(usize, &'static [u8])]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            for (expect_in, answer) in steps {
                let mut got = vec![0u8; *expect_in];
                s.read_exact(&mut got).unwrap();
                s.write_all(answer).unwrap();
            }
        });
        addr
    }

    fn ldap() -> Address {
        Address::Domain("ldap.virtual".into())
    }

    #[test]
    fn no_acceptable_method_is_reported_as_such() {
        let door = fake_door(&[(3, &[5, 0xFF])]);
        match open(door, SocksAuth::Nothing, &ldap(), 389) {
            Err(SocksClientError::MethodRefused(0xFF)) => {}
            r => panic!("{:?}", r.map(|_| "a stream")),
        }
    }

    #[test]
    fn refused_password_reads_the_reply_that_follows() {
        // Greeting (3 bytes), then the RFC 1929 message for "u"/"p" (5 bytes).
        let door = fake_door(&[(3, &[5, 2]), (5, &[1, 1, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0])]);
        let auth = SocksAuth::User {
            name: "u",
            password: "p",
        };
        match open(door, auth, &ldap(), 389) {
            Err(SocksClientError::AuthRefused(Some(5))) => {}
            r => panic!("{:?}", r.map(|_| "a stream")),
        }
    }

    #[test]
    fn a_non_zero_reply_and_a_short_answer_are_errors() {
        // Greeting, then a CONNECT to a 12-byte domain name (3 + 1 + 1 + 12 + 2 bytes).
        let door = fake_door(&[(3, &[5, 0]), (19, &[5, 2, 0, 1, 0, 0, 0, 0, 0, 0])]);
        match open(door, SocksAuth::Nothing, &ldap(), 389) {
            Err(SocksClientError::Reply(2)) => {}
            r => panic!("{:?}", r.map(|_| "a stream")),
        }
        let door = fake_door(&[(3, &[5])]);
        match open(door, SocksAuth::Nothing, &ldap(), 389) {
            Err(SocksClientError::Io(_, e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof)
            }
            r => panic!("{:?}", r.map(|_| "a stream")),
        }
    }
}
