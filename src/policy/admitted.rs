//! The proof token a passed check produces, and what the forwarder derives from it: the
//! backend address, the `Host` and `X-Forwarded-Host` values, and `Location` rewriting.

use super::normalize::CheckedPath;
use super::spec::{HostInHeader, Protocol};
use super::CompiledSystem;
use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;
use std::sync::Arc;

/// Proof that the policy admitted a request: only [`super::SubaccountPolicy`] constructs one
/// (private fields, no `Default`, no constructor outside this module tree), and the backend
/// dialer accepts nothing else. Carries exactly what is forwarded.
#[derive(Debug)]
pub struct Admitted {
    system: Arc<CompiledSystem>,
    virtual_port: u16,
    internal_port: u16,
    /// The port the request's scheme implies (80/443); the scheme of rewritten `Location`s.
    default_port: u16,
    path: Option<CheckedPath>,
    rule: Option<u32>,
}

impl Admitted {
    pub(super) fn new(
        system: Arc<CompiledSystem>,
        virtual_port: u16,
        default_port: u16,
        path: Option<CheckedPath>,
        rule: Option<u32>,
    ) -> Self {
        // Ranges have equal widths (checked at compile time): same offset inside.
        let offset = virtual_port.saturating_sub(system.virtual_ports.first);
        let internal_port = system.internal_ports.first.saturating_add(offset);
        Admitted {
            system,
            virtual_port,
            internal_port,
            default_port,
            path,
            rule,
        }
    }

    /// Where to connect: host name or IP address (IPv6 without brackets).
    pub fn internal_host(&self) -> &str {
        &self.system.internal_host
    }

    /// The internal port (for a range: the virtual port's offset into the internal range).
    pub fn internal_port(&self) -> u16 {
        self.internal_port
    }

    /// `host:port` of the backend (IPv6 in brackets), e.g. as a connection-pool key.
    pub fn internal_authority(&self) -> String {
        authority(
            &self.system.internal_host,
            self.system.internal_ipv6,
            Some(self.internal_port),
        )
    }

    /// Protocol towards the backend.
    pub fn protocol(&self) -> Protocol {
        self.system.protocol
    }

    /// The virtual host addressed (lower case).
    pub fn virtual_host(&self) -> &str {
        &self.system.virtual_host
    }

    /// The virtual port addressed.
    pub fn virtual_port(&self) -> u16 {
        self.virtual_port
    }

    /// The checked path: exactly what is forwarded (`None` for CONNECT).
    pub fn path(&self) -> Option<&CheckedPath> {
        self.path.as_ref()
    }

    /// The matched resource's path as configured, for the audit record (`None` for CONNECT).
    pub fn rule(&self) -> Option<&str> {
        self.system.rules.get(self.rule? as usize).map(|r| &*r.path)
    }

    /// Index of the system in the configuration it was compiled from.
    pub fn system_index(&self) -> usize {
        self.system.index
    }

    /// `Host` for the backend: the virtual `host[:port]` (default), or the internal one when
    /// the system says `host_in_header = "internal"`. The port is left out when it is the
    /// scheme's default.
    pub fn host_header(&self) -> Bytes {
        match self.system.host_in_header {
            HostInHeader::Virtual => self.virtual_authority(),
            HostInHeader::Internal => {
                let default = self.system.protocol.default_http_port();
                let port = (default != Some(self.internal_port)).then_some(self.internal_port);
                Bytes::from(authority(
                    &self.system.internal_host,
                    self.system.internal_ipv6,
                    port,
                ))
            }
        }
    }

    /// `X-Forwarded-Host` for the backend: the virtual `host[:port]` when `Host` carries the
    /// internal one, else `None`.
    pub fn forwarded_host(&self) -> Option<Bytes> {
        (self.system.host_in_header == HostInHeader::Internal).then(|| self.virtual_authority())
    }

    /// Rewrites a backend `Location` that points at the internal system (`http[s]://internal
    /// [:port]/...` or `//internal[:port]/...`) to the virtual one, in the scheme the cloud
    /// used. `None`: leave the value as it is (relative, or another host).
    pub fn rewrite_location(&self, value: &[u8]) -> Option<Bytes> {
        let (scheme_port, rest) = if let Some(r) = strip_prefix_ci(value, b"http://") {
            (Some(80), r)
        } else if let Some(r) = strip_prefix_ci(value, b"https://") {
            (Some(443), r)
        } else if let Some(r) = value.strip_prefix(b"//") {
            (None, r)
        } else {
            return None;
        };
        let end = rest
            .iter()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let (auth, tail) = rest.split_at(end);
        let hp = crate::proto::http1::parse_authority(auth).ok()?;
        if !hp.host.eq_ignore_ascii_case(&self.system.internal_host) {
            return None;
        }
        // A scheme-relative reference inherits the backend connection's scheme.
        let implied = scheme_port.or(self.system.protocol.default_http_port())?;
        if hp.port.unwrap_or(implied) != self.internal_port {
            return None;
        }
        let scheme: &[u8] = match scheme_port {
            None => b"//",
            Some(_) if self.default_port == 443 => b"https://",
            Some(_) => b"http://",
        };
        let virt = self.virtual_authority();
        let mut out = BytesMut::with_capacity(scheme.len() + virt.len() + tail.len());
        out.put_slice(scheme);
        out.put_slice(&virt);
        out.put_slice(tail);
        Some(out.freeze())
    }

    /// The virtual host, with `:port` unless it is the request scheme's default.
    fn virtual_authority(&self) -> Bytes {
        let port = (self.virtual_port != self.default_port).then_some(self.virtual_port);
        Bytes::from(authority(&self.system.virtual_host, false, port))
    }
}

fn strip_prefix_ci<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

fn authority(host: &str, ipv6: bool, port: Option<u16>) -> String {
    let host: Cow<'_, str> = if ipv6 {
        format!("[{host}]").into()
    } else {
        host.into()
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host.into_owned(),
    }
}
