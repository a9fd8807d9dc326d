//! Optional forwarding of each audit record to a syslog collector as an RFC 5424 message, over
//! UDP (RFC 5426, one datagram per message) or TCP (RFC 6587 octet counting).
//!
//! Forwarding is best effort and never blocks the sink: messages go through a bounded queue to
//! a background thread; when the queue is full or the collector is unreachable, messages are
//! dropped and counted. The signed day files stay the record of truth.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use super::AuditError;

/// Facility 13, "log audit" (RFC 5424 §6.2.1).
const FACILITY_LOG_AUDIT: u8 = 13;
/// The SD-ID of our structured data; 32473 is the private enterprise number RFC 5612 reserves
/// for documentation and examples.
const SD_ID: &str = "sallyport@32473";
const QUEUE: usize = 4096;
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// How syslog messages travel (`udp` / `tcp` in configuration files).
#[derive(serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    /// One datagram per message.
    #[default]
    Udp,
    /// A stream with octet-counting framing (`LEN SP MSG`).
    Tcp,
}

/// Where to forward audit records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogTarget {
    /// The collector.
    pub address: SocketAddr,
    /// UDP or TCP.
    pub transport: SyslogTransport,
    /// The HOSTNAME field (`-` when `None`).
    pub hostname: Option<String>,
}

/// Severity by event kind: failures and denials are warnings, configuration changes notices,
/// the rest informational.
pub(crate) fn severity(kind: &str) -> u8 {
    match kind {
        "denied" | "auth_failure" | "config_rejected" => 4,
        "config_change" | "retention" | "checkpoint" => 5,
        _ => 6,
    }
}

/// Escapes an SD-PARAM value (RFC 5424 §6.3.3: `"`, `\` and `]`).
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A printable-ASCII header field of at most `max` characters, `-` when empty.
fn header_field(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".into()
    } else {
        clean
    }
}

/// Formats one RFC 5424 message: PRI, version 1, the record's timestamp, hostname, app-name
/// `sallyport`, the process id, MSGID = the record's kind, structured data with the sequence
/// number and subaccount, and the JSON record as MSG.
pub(crate) fn format_message(
    hostname: Option<&str>,
    time: &str,
    kind: &str,
    seq: u64,
    subaccount: &str,
    record: &[u8],
) -> Vec<u8> {
    let pri = FACILITY_LOG_AUDIT * 8 + severity(kind);
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let mut msg = format!(
        "<{pri}>1 {time} {} sallyport {} {} [{SD_ID} seq=\"{seq}\" subaccount=\"{}\"] ",
        header_field(hostname.unwrap_or(""), 255),
        std::process::id(),
        header_field(kind, 32),
        sd_escape(subaccount),
    )
    .into_bytes();
    msg.extend_from_slice(record);
    msg
}

/// The sending half: a bounded queue to the forwarding thread.
pub(crate) struct SyslogForwarder {
    queue: SyncSender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

impl SyslogForwarder {
    /// Starts the forwarding thread.
    pub(crate) fn start(target: &SyslogTarget) -> Result<Self, AuditError> {
        let (queue, rx) = sync_channel::<Vec<u8>>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut conn = Connection::new(target)?;
        let counter = dropped.clone();
        std::thread::Builder::new()
            .name("audit-syslog".into())
            .spawn(move || {
                for msg in rx {
                    if conn.send(&msg).is_err() {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|source| AuditError::Syslog {
                address: target.address,
                source,
            })?;
        Ok(Self { queue, dropped })
    }

    /// Queues a message; drops it (and counts) when the queue is full.
    pub(crate) fn send(&self, msg: Vec<u8>) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send(msg)
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Messages dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

enum Connection {
    Udp(UdpSocket, SocketAddr),
    Tcp(SocketAddr, Option<TcpStream>),
}

impl Connection {
    fn new(target: &SyslogTarget) -> Result<Self, AuditError> {
        let err = |source| AuditError::Syslog {
            address: target.address,
            source,
        };
        Ok(match target.transport {
            SyslogTransport::Udp => {
                let bind: SocketAddr = if target.address.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                Connection::Udp(UdpSocket::bind(bind).map_err(err)?, target.address)
            }
            SyslogTransport::Tcp => Connection::Tcp(target.address, None),
        })
    }

    /// Sends one message; a TCP connection is (re)opened on demand, once per message.
    fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Connection::Udp(sock, to) => sock.send_to(msg, *to).map(|_| ()),
            Connection::Tcp(addr, stream) => {
                if stream.is_none() {
                    let s = TcpStream::connect_timeout(addr, IO_TIMEOUT)?;
                    s.set_write_timeout(Some(IO_TIMEOUT))?;
                    *stream = Some(s);
                }
                let mut framed = format!("{} ", msg.len()).into_bytes();
                framed.extend_from_slice(msg);
                let result = match stream {
                    Some(s) => s.write_all(&framed),
                    None => Ok(()),
                };
                if result.is_err() {
                    *stream = None;
                }
                result
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let msg = format_message(
            Some("host a"),
            "2026-11-21T14:35:00.123Z",
            "denied",
            7,
            "acme\"]",
            b"{\"seq\":7}\n",
        );
        let text = String::from_utf8(msg).unwrap();
        let expected_prefix = format!(
            "<108>1 2026-11-21T14:35:00.123Z hosta sallyport {} denied \
             [sallyport@32473 seq=\"7\" subaccount=\"acme\\\"\\]\"] {{\"seq\":7}}",
            std::process::id()
        );
        assert_eq!(text, expected_prefix);
    }

    #[test]
    fn severities() {
        assert_eq!(severity("auth_failure"), 4);
        assert_eq!(severity("config_change"), 5);
        assert_eq!(severity("request"), 6);
    }
}
