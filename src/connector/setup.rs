//! The connector from its configuration file, and configuration reload.
//!
//! Start-up turns each `[[subaccount]]` into a [`ConnectorConfig`]: its mTLS client
//! configuration (the certificate must name exactly the configured tenant and location, so a
//! file that points at another tenant's certificate fails here, not at the relay), its compiled
//! policy and its audit sink (checkpoints signed with the subaccount's own key).
//!
//! Reload compiles the whole new file before anything changes; only then are the policies
//! swapped and the audit levels set, all subaccounts together. Settings a running tunnel
//! cannot change (relay address, certificates, tunnel count, timeouts, I/O) are reported as
//! needing a restart. A subaccount removed from the file has its policy replaced by an empty
//! one (deny everything) at once; its tunnels stay up until the restart.

use super::{BackendTimeouts, ConnectorConfig, Live};
use crate::audit::{
    AuditError, AuditOptions, AuditSink, CheckpointSigner, Decision, Event, EventKind, Level,
    SyslogTarget,
};
use crate::config::{ConfigErrors, ConnectorFile, Subaccount};
use crate::policy::SubaccountPolicy;
use crate::tls::{Identity, TlsError};
use std::fmt;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Why the connector cannot start from a configuration file, or a reload is rejected.
#[derive(Debug)]
pub enum SetupError {
    /// The file has errors (each positioned: file, line, column, key).
    Config(ConfigErrors),
    /// A subaccount's certificate, key or CA cannot be used.
    Tls {
        /// `tenant/location`.
        subaccount: String,
        /// What is wrong.
        error: TlsError,
    },
    /// A subaccount's certificate names another tenant or location than the file says.
    IdentityMismatch {
        /// `tenant/location` as configured.
        subaccount: String,
        /// What the certificate says.
        certificate: String,
    },
    /// A subaccount's audit trail cannot be opened.
    Audit {
        /// `tenant/location`.
        subaccount: String,
        /// What is wrong.
        error: AuditError,
    },
    /// A subaccount's systems do not compile into a policy.
    Policy {
        /// `tenant/location`.
        subaccount: String,
        /// Every problem, joined.
        message: String,
    },
    /// A subaccount's `relay_name` is not a DNS name or IP address.
    RelayName {
        /// `tenant/location`.
        subaccount: String,
        /// The name.
        name: String,
    },
    /// The syslog collector address does not resolve.
    Syslog(String),
    /// The backend trust bundle cannot be loaded.
    BackendTrust(TlsError),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Config(errors) => write!(f, "{errors}"),
            SetupError::Tls { subaccount, error } => write!(f, "subaccount {subaccount}: {error}"),
            SetupError::IdentityMismatch {
                subaccount,
                certificate,
            } => write!(
                f,
                "subaccount {subaccount}: its certificate is issued to {certificate}; use the \
                 certificate made for this tenant and location (`sallyport pki --connector`)"
            ),
            SetupError::Audit { subaccount, error } => {
                write!(f, "subaccount {subaccount}: audit trail: {error}")
            }
            SetupError::Policy {
                subaccount,
                message,
            } => write!(f, "subaccount {subaccount}: {message}"),
            SetupError::RelayName { subaccount, name } => write!(
                f,
                "subaccount {subaccount}: relay_name '{name}' is not a DNS name or IP address"
            ),
            SetupError::Syslog(why) => write!(f, "connector.syslog: {why}"),
            SetupError::BackendTrust(e) => write!(f, "connector.backend_trust: {e}"),
        }
    }
}

impl std::error::Error for SetupError {}

fn name(s: &Subaccount) -> String {
    format!("{}/{}", s.tenant, s.location)
}

/// The audit directory name of a subaccount: `+` cannot occur in tenant or location names, so
/// no two subaccounts share one.
fn audit_name(s: &Subaccount) -> String {
    format!("{}+{}", s.tenant, s.location)
}

fn syslog_target(file: &ConnectorFile) -> Result<Option<SyslogTarget>, SetupError> {
    let Some(s) = &file.connector.syslog else {
        return Ok(None);
    };
    let address = s
        .address
        .to_socket_addrs()
        .map_err(|e| SetupError::Syslog(format!("'{}' does not resolve: {e}", s.address)))?
        .next()
        .ok_or_else(|| SetupError::Syslog(format!("'{}' has no address", s.address)))?;
    Ok(Some(SyslogTarget {
        address,
        transport: s.transport,
        hostname: None,
    }))
}

fn open_audit(
    file: &ConnectorFile,
    s: &Subaccount,
    level: Level,
    syslog: Option<SyslogTarget>,
) -> Result<AuditSink, SetupError> {
    let err = |error| SetupError::Audit {
        subaccount: name(s),
        error,
    };
    let mut opts = AuditOptions::new(&file.connector.audit_dir, &audit_name(s));
    opts.level = level;
    opts.retention_days = file.connector.audit_retention_days;
    opts.signer = Some(CheckpointSigner::from_pkcs8_pem_file(&s.key).map_err(err)?);
    opts.syslog = syslog;
    AuditSink::open(opts).map_err(err)
}

fn compile(s: &Subaccount) -> Result<Arc<SubaccountPolicy>, SetupError> {
    // `load_connector` already compiled the policies to position their errors; this cannot
    // fail for a file that loaded, but a failure still gets a clear message.
    SubaccountPolicy::compile(&s.systems)
        .map(Arc::new)
        .map_err(|errors| SetupError::Policy {
            subaccount: name(s),
            message: errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })
}

/// One [`ConnectorConfig`] per subaccount of a loaded file.
pub fn configs_from_file(
    file: &ConnectorFile,
    drain_on_signal: bool,
) -> Result<Vec<ConnectorConfig>, SetupError> {
    let syslog = syslog_target(file)?;
    let mut policies = Vec::new();
    for s in &file.subaccounts {
        policies.push(compile(s)?);
    }
    let backend_tls = if policies.iter().any(|p| p.uses_tls()) {
        Some(
            crate::tls::backend_client_config(file.connector.backend_trust.as_deref())
                .map_err(SetupError::BackendTrust)?,
        )
    } else {
        None
    };
    let mut out = Vec::new();
    for (s, policy) in file.subaccounts.iter().zip(policies) {
        let tls_err = |error| SetupError::Tls {
            subaccount: name(s),
            error,
        };
        let identity = Identity::new(&s.tenant, &s.location).map_err(tls_err)?;
        let certs = crate::tls::load_certs(&s.cert).map_err(tls_err)?;
        let found = crate::tls::identity_from_certs(&certs).map_err(tls_err)?;
        if found != identity {
            return Err(SetupError::IdentityMismatch {
                subaccount: name(s),
                certificate: format!("{}/{}", found.tenant, found.location),
            });
        }
        let tls = crate::tls::connector_client_config(&s.ca, &s.cert, &s.key).map_err(tls_err)?;
        let relay_name =
            rustls::pki_types::ServerName::try_from(s.relay_name.clone()).map_err(|_| {
                SetupError::RelayName {
                    subaccount: name(s),
                    name: s.relay_name.clone(),
                }
            })?;
        out.push(ConnectorConfig {
            relay: s.relay.clone(),
            relay_name,
            tls,
            tunnels: s.tunnels as usize,
            identity,
            policy,
            audit: open_audit(file, s, s.audit, syslog.clone())?,
            max_streams: file.connector.streams_per_tunnel,
            keepalive: file.connector.keepalive(),
            timeouts: BackendTimeouts {
                connect: file.connector.connect_timeout(),
                response: file.connector.response_timeout(),
                idle: file.connector.idle_timeout(),
            },
            backend_tls: backend_tls.clone(),
            io: file.connector.io.into(),
            handshake_timeout: Duration::from_secs(10),
            drain_on_signal,
        });
    }
    Ok(out)
}

/// What a reload did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new policies and audit levels are in force.
    Applied {
        /// One line on what changed.
        summary: String,
        /// Settings that changed but take effect only after a restart.
        needs_restart: Vec<String>,
    },
    /// The new file was refused; the running configuration is unchanged.
    Rejected(SetupError),
}

/// Reloads `path` into the running subaccounts `live` (in the order of `current`'s
/// subaccounts). On success `current` becomes the new file.
pub fn reload_from_file(
    path: &Path,
    live: &[Arc<Live>],
    current: &mut ConnectorFile,
) -> ReloadOutcome {
    let outcome = match crate::config::load_connector(path) {
        Err(errors) => ReloadOutcome::Rejected(SetupError::Config(errors)),
        Ok(new) => match apply(&new, live, current) {
            Ok((summary, needs_restart)) => {
                *current = new;
                ReloadOutcome::Applied {
                    summary,
                    needs_restart,
                }
            }
            Err(e) => ReloadOutcome::Rejected(e),
        },
    };
    let now = SystemTime::now();
    for (s, l) in current.subaccounts.iter().zip(live) {
        let mut ev = match &outcome {
            ReloadOutcome::Applied { summary, .. } => {
                let mut ev = Event::new(EventKind::ConfigChange, &s.tenant, &s.location);
                ev.detail = Some(summary.clone());
                ev
            }
            ReloadOutcome::Rejected(e) => {
                let mut ev = Event::new(EventKind::ConfigRejected, &s.tenant, &s.location);
                ev.decision = Decision::Deny;
                ev.detail = Some(e.to_string());
                ev
            }
        };
        ev.caller = Some("configuration reload".into());
        if let Err(e) = l.audit().record(ev, now) {
            tracing::error!(tenant = %l.tenant, location = %l.location, "audit record lost: {e}");
        }
    }
    outcome
}

/// Compiles everything first, then swaps; an error leaves every subaccount as it was.
fn apply(
    new: &ConnectorFile,
    live: &[Arc<Live>],
    current: &ConnectorFile,
) -> Result<(String, Vec<String>), SetupError> {
    let mut needs_restart = Vec::new();
    let syslog = syslog_target(new)?;
    // (live index, new policy, new audit sink to install if the old one has no files)
    let mut plan: Vec<(usize, Arc<SubaccountPolicy>, Level, Option<AuditSink>)> = Vec::new();
    for s in &new.subaccounts {
        let found = current
            .subaccounts
            .iter()
            .position(|c| c.tenant == s.tenant && c.location == s.location);
        let Some(i) = found.filter(|&i| i < live.len()) else {
            needs_restart.push(format!("subaccount {} added", name(s)));
            continue;
        };
        let old = &current.subaccounts[i];
        for (what, changed) in [
            (
                "relay",
                old.relay != s.relay || old.relay_name != s.relay_name,
            ),
            (
                "certificates",
                old.ca != s.ca || old.cert != s.cert || old.key != s.key,
            ),
            ("tunnels", old.tunnels != s.tunnels),
        ] {
            if changed {
                needs_restart.push(format!("subaccount {}: {what}", name(s)));
            }
        }
        let policy = compile(s)?;
        let sink = live[i].audit();
        let fresh = if !sink.is_open() && s.audit != Level::Off {
            Some(open_audit(new, s, s.audit, syslog.clone())?)
        } else {
            None
        };
        plan.push((i, policy, s.audit, fresh));
    }
    let c = &current.connector;
    let n = &new.connector;
    for (what, changed) in [
        ("connector.io", c.io != n.io),
        (
            "connector.keepalive_secs",
            c.keepalive_secs != n.keepalive_secs,
        ),
        (
            "connector timeouts",
            c.connect_timeout_secs != n.connect_timeout_secs
                || c.response_timeout_secs != n.response_timeout_secs
                || c.idle_timeout_secs != n.idle_timeout_secs,
        ),
        (
            "connector.streams_per_tunnel",
            c.streams_per_tunnel != n.streams_per_tunnel,
        ),
        (
            "connector.backend_trust",
            c.backend_trust != n.backend_trust,
        ),
        ("connector.audit_dir", c.audit_dir != n.audit_dir),
    ] {
        if changed {
            needs_restart.push(what.to_string());
        }
    }
    // Everything compiled: swap.
    let mut kept = vec![false; live.len()];
    let mut systems = 0;
    for (i, policy, level, fresh) in plan {
        kept[i] = true;
        systems += policy.len();
        live[i].set_policy(policy);
        match fresh {
            Some(sink) => live[i].set_audit(sink),
            None => live[i].audit().set_level(level),
        }
    }
    let mut removed = 0;
    for (i, l) in live.iter().enumerate() {
        if !kept[i] {
            removed += 1;
            needs_restart.push(format!(
                "subaccount {}/{} removed: it refuses everything until the restart",
                l.tenant, l.location
            ));
            if let Ok(empty) = SubaccountPolicy::compile(&[]) {
                l.set_policy(Arc::new(empty));
            }
        }
    }
    let summary = format!(
        "configuration reloaded: {} subaccount(s), {systems} system(s){}",
        live.len() - removed,
        if removed > 0 {
            format!(", {removed} emptied")
        } else {
            String::new()
        }
    );
    Ok((summary, needs_restart))
}
