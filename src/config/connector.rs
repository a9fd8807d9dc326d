//! The connector's configuration file: `[connector]` settings and `[[subaccount]]`s, each with
//! its `[[subaccount.system]]`s and their `[[subaccount.system.resource]]`s.

use super::common::{
    check_file, check_name, check_secs, host_port, AuditLevel, Io, DEFAULT_IDLE_TIMEOUT_SECS,
};
use super::error::{ConfigErrors, ConfigWarning, ErrorKind};
use super::source::{index, join, Reader, SourceMap};
use super::Options;
use crate::policy::{ResourceSpec, SystemSpec};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most tunnels one subaccount may open to the relay.
pub const MAX_TUNNELS: u32 = 64;

/// A parsed and checked connector file.
#[derive(Clone, Debug)]
pub struct ConnectorFile {
    /// The `[connector]` table.
    pub connector: ConnectorSettings,
    /// The `[[subaccount]]`s, in file order (at least one).
    pub subaccounts: Vec<Subaccount>,
    source: SourceMap,
    warnings: Vec<ConfigWarning>,
}

impl ConnectorFile {
    /// Where each key is in the file, to position errors found later.
    pub fn source_map(&self) -> &SourceMap {
        &self.source
    }

    /// Start-up warnings.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }
}

fn default_keepalive() -> u64 {
    10
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_idle_timeout() -> u64 {
    DEFAULT_IDLE_TIMEOUT_SECS
}

fn default_response_timeout() -> u64 {
    30
}
pub(crate) fn default_location() -> String {
    "default".to_owned()
}
fn default_tunnels() -> u32 {
    2
}

/// The `[connector]` table: process-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// Directory of the audit trail (absolute after loading; created at start if missing).
    pub audit_dir: PathBuf,
    /// Days audit files are kept; 0 keeps them forever.
    #[serde(default)]
    pub audit_retention_days: u32,
    /// PEM bundle trusted for https/tcps/ldaps backends; `None` uses the system bundle.
    #[serde(default)]
    pub backend_trust: Option<PathBuf>,
    /// I/O backend.
    #[serde(default)]
    pub io: Io,
    /// Seconds between keepalive PINGs on an idle tunnel.
    #[serde(default = "default_keepalive")]
    pub keepalive_secs: u64,
    /// Seconds allowed for connecting to a backend.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Seconds a backend may take to start its response.
    #[serde(default = "default_response_timeout")]
    pub response_timeout_secs: u64,
    /// Seconds a spliced stream (TCP, WebSocket) may move no byte either way before the
    /// connector closes the backend connection and resets the stream.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Streams the relay may open at once on one tunnel (HTTP/2 MAX_CONCURRENT_STREAMS); each
    /// holds a backend connection, so this bounds what one tunnel can make the connector hold.
    #[serde(default = "default_streams_per_tunnel")]
    pub streams_per_tunnel: u32,
    /// RFC 5424 forwarding of the audit trail (`[connector.syslog]`), if any.
    #[serde(default)]
    pub syslog: Option<Syslog>,
}

/// Default of `streams_per_tunnel`.
pub const DEFAULT_STREAMS_PER_TUNNEL: u32 = 1024;

fn default_streams_per_tunnel() -> u32 {
    DEFAULT_STREAMS_PER_TUNNEL
}

impl ConnectorSettings {
    /// `keepalive_secs` as a duration.
    pub fn keepalive(&self) -> Duration {
        Duration::from_secs(self.keepalive_secs)
    }

    /// `connect_timeout_secs` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// `response_timeout_secs` as a duration.
    pub fn response_timeout(&self) -> Duration {
        Duration::from_secs(self.response_timeout_secs)
    }

    /// `idle_timeout_secs` as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// How long audit files are kept; `None` = forever.
    pub fn audit_retention(&self) -> Option<Duration> {
        (self.audit_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.audit_retention_days) * 86_400))
    }
}

/// How syslog messages travel: the audit sink's own type (`udp` default, `tcp`).
pub use crate::audit::SyslogTransport;

/// The `[connector.syslog]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Syslog {
    /// `host:port` of the collector.
    pub address: String,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: SyslogTransport,
}

/// One `[[subaccount]]`: a tenant/location identity, the relay it dials and its systems.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subaccount {
    /// Tenant name (must match the certificate).
    pub tenant: String,
    /// Location name (default `default`).
    #[serde(default = "default_location")]
    pub location: String,
    /// `host:port` of the relay's tunnel listener.
    pub relay: String,
    /// Name the relay's certificate must carry; after loading never empty (defaults to the
    /// host part of `relay`).
    #[serde(default)]
    pub relay_name: String,
    /// CA that signs the relay's certificate (absolute after loading).
    pub ca: PathBuf,
    /// This connector's certificate chain (absolute after loading).
    pub cert: PathBuf,
    /// This connector's private key (absolute after loading).
    pub key: PathBuf,
    /// Tunnels kept open to the relay (1 to [`MAX_TUNNELS`], default 2).
    #[serde(default = "default_tunnels")]
    pub tunnels: u32,
    /// What is audited for this subaccount.
    #[serde(default)]
    pub audit: AuditLevel,
    /// The `[[subaccount.system]]`s.
    #[serde(default, rename = "system")]
    pub systems: Vec<SystemSpec>,
}

pub(crate) fn parse(
    text: &str,
    origin: &Path,
    opts: &Options,
) -> Result<ConnectorFile, ConfigErrors> {
    let (mut r, mut root) = Reader::parse(text, origin)?;
    let section = root.remove("connector");
    let subaccounts = root.remove("subaccount");
    for (k, _) in root.iter() {
        let key = join("", k.get_ref());
        let message = if k.get_ref() == "relay" {
            "a connector file cannot hold [relay]: the relay has its own file".to_owned()
        } else {
            format!("unknown top-level key `{key}`; a connector file has [connector] and [[subaccount]]")
        };
        r.error(&key, ErrorKind::Schema, message);
    }

    let mut settings = None;
    match section {
        None => r.error(
            "connector",
            ErrorKind::Schema,
            "missing [connector] table (audit_dir is required)",
        ),
        Some(v) => {
            let (s, [syslog]) = r.de_table::<ConnectorSettings, 1>(v, "connector", ["syslog"]);
            let syslog = syslog.and_then(|v| r.de::<Syslog>(v, "connector.syslog"));
            settings = s.map(|s| ConnectorSettings { syslog, ..s });
        }
    }

    let mut subs = Vec::new();
    let before = r.error_count();
    let elements = r.elements(subaccounts, "subaccount");
    // `subaccount = 3` was reported by `elements`; absent or `subaccount = []` is reported here.
    if elements.is_empty() && r.error_count() == before {
        r.error(
            "subaccount",
            ErrorKind::Schema,
            "no [[subaccount]]: a connector serves at least one tenant/location",
        );
    }
    for (i, elem) in elements.into_iter().enumerate() {
        let path = index("subaccount", i);
        let (sub, [systems]) = r.de_table::<Subaccount, 1>(elem, &path, ["system"]);
        let systems = read_systems(&mut r, systems, &join(&path, "system"));
        if let Some(sub) = sub {
            subs.push((path, Subaccount { systems, ..sub }));
        }
    }

    if let Some(s) = settings.as_mut() {
        check_settings(&mut r, s, opts);
    }
    check_subaccounts(&mut r, &mut subs, opts);
    // The whitelist compiler's checks (duplicate and overlapping systems, range widths, path
    // syntax of resources). Only on an otherwise clean file: a system that failed to parse is
    // missing from the list, and the compiler's indices would then point at the wrong one.
    if r.error_count() == 0 {
        for (path, s) in &subs {
            check_policy(&mut r, path, &s.systems);
        }
    }

    let (source, warnings) = r.finish()?;
    Ok(ConnectorFile {
        // `finish` succeeded, so the table was read.
        connector: settings.ok_or_else(|| ConfigErrors(Vec::new()))?,
        subaccounts: subs.into_iter().map(|(_, s)| s).collect(),
        source,
        warnings,
    })
}

fn read_systems(
    r: &mut Reader,
    value: Option<toml::Spanned<toml::de::DeValue<'_>>>,
    path: &str,
) -> Vec<SystemSpec> {
    let mut out = Vec::new();
    for (j, elem) in r.elements(value, path).into_iter().enumerate() {
        let spath = index(path, j);
        let (sys, [resources]) = r.de_table::<SystemSpec, 1>(elem, &spath, ["resource"]);
        let rpath = join(&spath, "resource");
        let mut res = Vec::new();
        for (k, rv) in r.elements(resources, &rpath).into_iter().enumerate() {
            res.extend(r.de::<ResourceSpec>(rv, &index(&rpath, k)));
        }
        if let Some(sys) = sys {
            out.push(SystemSpec {
                resources: res,
                ..sys
            });
        }
    }
    out
}

fn check_settings(r: &mut Reader, s: &mut ConnectorSettings, opts: &Options) {
    s.audit_dir = r.resolve(&s.audit_dir);
    if s.streams_per_tunnel == 0 || s.streams_per_tunnel > 100_000 {
        r.invalid(
            "connector.streams_per_tunnel",
            format!(
                "streams_per_tunnel is {}; it must be 1 to 100000",
                s.streams_per_tunnel
            ),
        );
    }
    if let Some(t) = s.backend_trust.as_mut() {
        *t = r.resolve(t);
        check_file(
            r,
            opts.check_files,
            "connector.backend_trust",
            "backend trust bundle",
            t,
        );
    }
    check_secs(
        r,
        "connector.keepalive_secs",
        s.keepalive_secs,
        "keepalive_secs",
    );
    check_secs(
        r,
        "connector.connect_timeout_secs",
        s.connect_timeout_secs,
        "connect_timeout_secs",
    );
    check_secs(
        r,
        "connector.response_timeout_secs",
        s.response_timeout_secs,
        "response_timeout_secs",
    );
    check_secs(
        r,
        "connector.idle_timeout_secs",
        s.idle_timeout_secs,
        "idle_timeout_secs",
    );
    if let Some(sys) = &s.syslog {
        if let Err(e) = host_port(&sys.address) {
            r.invalid("connector.syslog.address", e);
        }
    }
}

fn check_policy(r: &mut Reader, path: &str, systems: &[SystemSpec]) {
    if let Err(errors) = crate::policy::SubaccountPolicy::compile(systems) {
        for e in errors {
            let mut key = index(&join(path, "system"), e.system);
            if let Some(k) = e.resource {
                key = index(&join(&key, "resource"), k);
            }
            r.invalid(&key, e.to_string());
        }
    }
}

fn check_subaccounts(r: &mut Reader, subs: &mut [(String, Subaccount)], opts: &Options) {
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for (path, s) in subs.iter_mut() {
        let tenant_ok = check_name(r, &join(path, "tenant"), "tenant", &s.tenant);
        let location_ok = check_name(r, &join(path, "location"), "location", &s.location);
        if tenant_ok && location_ok {
            let id = (s.tenant.clone(), s.location.clone());
            if let Some(first) = seen.get(&id) {
                r.invalid(
                    path,
                    format!(
                        "tenant `{}` location `{}` is already configured at {first}; each \
                         tenant/location pair may appear once",
                        s.tenant, s.location
                    ),
                );
            } else {
                seen.insert(id, path.clone());
            }
        }
        match host_port(&s.relay) {
            Ok((host, _)) if s.relay_name.is_empty() => {
                if r.map.locate(&join(path, "relay_name")).is_some() {
                    r.invalid(
                        &join(path, "relay_name"),
                        "relay_name is empty; leave it out to use the host part of `relay`",
                    );
                }
                s.relay_name = host.to_owned();
            }
            Ok(_) => {}
            Err(e) => r.invalid(&join(path, "relay"), e),
        }
        if !s.relay_name.is_empty()
            && rustls_pki_types::ServerName::try_from(s.relay_name.as_str()).is_err()
        {
            r.invalid(
                &join(path, "relay_name"),
                format!("`{}` is not a DNS name or IP address", s.relay_name),
            );
        }
        if s.tunnels == 0 || s.tunnels > MAX_TUNNELS {
            r.invalid(
                &join(path, "tunnels"),
                format!("tunnels is {}; it must be 1 to {MAX_TUNNELS}", s.tunnels),
            );
        }
        for (field, what, file) in [
            ("ca", "relay CA certificate", &mut s.ca),
            ("cert", "connector certificate", &mut s.cert),
            ("key", "connector private key", &mut s.key),
        ] {
            *file = r.resolve(file);
            check_file(r, opts.check_files, &join(path, field), what, file);
        }
        if s.audit == AuditLevel::Off {
            r.warn(
                &join(path, "audit"),
                format!(
                    "audit is off for {}/{}: denied and forwarded requests leave no record",
                    s.tenant, s.location
                ),
            );
        }
        if s.systems.is_empty() {
            r.warn(
                path,
                format!(
                    "subaccount {}/{} has no [[subaccount.system]]: the cloud can reach nothing through it",
                    s.tenant, s.location
                ),
            );
        }
    }
}
