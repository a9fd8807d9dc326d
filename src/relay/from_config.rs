//! Building the relay from its configuration file ([`crate::config::RelayFile`]): the
//! [`RelayConfig`] (listeners, TLS, limits, threads), the [`FrontAuth`] (identity providers
//! with their key files, tenants, users, the trusted tenant), the relay's audit sink, and the
//! [`Reloader`] that rebuilds the front-door settings when the file changes.
//!
//! Every error is a positioned [`ConfigError`] (`FILE:LINE:COL: KEY: MESSAGE`) naming the
//! key whose value failed: a key file that does not parse, an address already in use.

use super::auth::{AuthAudit, FrontAuth, LogAudit, TenantAuth};
use super::live::{record_config_event, AuthCell};
use super::{Registry, RelayConfig};
use crate::audit::{AuditOptions, AuditSink, EventKind, Level};
use crate::auth::{Alg, IdentityProvider, Providers, VerifyKey};
use crate::config::{
    self, AuditLevel, ConfigError, ConfigErrors, ErrorKind, RelayFile, RelaySettings,
};
use crate::reload::Trigger;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The subaccount directory name of the relay's audit trail (`<audit_dir>/relay/`).
pub const RELAY_AUDIT_NAME: &str = "relay";

/// Everything [`relay_config_from_file`] builds.
pub struct RelayFromFile {
    /// Ready for [`super::start_live`].
    pub config: RelayConfig,
    /// The relay's audit trail when `relay.audit_dir` is set and `relay.audit` is not `off`.
    /// The same sink is the `audit` of `config.auth`; call its `tick` every few seconds.
    pub audit: Option<AuditSink>,
}

fn errors(file: &RelayFile, key: &str, kind: ErrorKind, message: String) -> ConfigErrors {
    ConfigErrors(vec![file.source_map().error(key, kind, message)])
}

/// Binds the listeners, loads the TLS files, opens the audit trail and builds the front-door
/// settings of `file`.
pub fn relay_config_from_file(file: &RelayFile) -> Result<RelayFromFile, ConfigErrors> {
    let s = &file.relay;
    let audit = open_audit(file)?;
    let auth_audit: Arc<dyn AuthAudit> = match &audit {
        Some(sink) => Arc::new(sink.clone()),
        None => Arc::new(LogAudit),
    };
    let auth = front_auth_from_file(file, auth_audit)?;
    let tls = crate::tls::relay_server_config(&s.ca, &s.cert, &s.key)
        .map_err(|e| errors(file, "relay.cert", ErrorKind::Invalid, e.to_string()))?;
    let bind = |key: &str, addr: std::net::SocketAddr| {
        std::net::TcpListener::bind(addr).map_err(|e| {
            errors(
                file,
                key,
                ErrorKind::Invalid,
                format!("cannot listen on {addr}: {e}"),
            )
        })
    };
    let tunnel_listener = bind("relay.tunnel_listen", s.tunnel_listen.0)?;
    let proxy_listener = match &s.http_proxy {
        Some(door) => Some(bind("relay.http_proxy.listen", door.listen.0)?),
        None => None,
    };
    let socks_listener = match &s.socks5 {
        Some(door) => Some(bind("relay.socks5.listen", door.listen.0)?),
        None => None,
    };
    let limits = crate::proto::http1::Limits {
        max_request_line: s.limits.request_line_bytes,
        max_head: s.limits.header_bytes,
        ..Default::default()
    };
    let threads = match s.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    Ok(RelayFromFile {
        config: RelayConfig {
            tunnel_listener,
            proxy_listener,
            tls,
            socks_listener,
            auth,
            socks_handshake_timeout: s.limits.socks_handshake_timeout(),
            limits,
            header_timeout: s.limits.header_timeout(),
            response_timeout: s.limits.response_timeout(),
            idle_timeout: s.limits.idle_timeout(),
            handshake_timeout: s.limits.handshake_timeout(),
            keepalive: s.limits.keepalive(),
            threads,
            io: s.io.into(),
        },
        audit,
    })
}

/// Opens `<audit_dir>/relay/` at the file's audit level; `None` without `audit_dir` or with
/// `audit = "off"`.
pub fn open_audit(file: &RelayFile) -> Result<Option<AuditSink>, ConfigErrors> {
    let s = &file.relay;
    let (Some(dir), level) = (&s.audit_dir, audit_level(s.audit)) else {
        return Ok(None);
    };
    if level == Level::Off {
        return Ok(None);
    }
    let mut opts = AuditOptions::new(dir, RELAY_AUDIT_NAME);
    opts.level = level;
    AuditSink::open(opts).map(Some).map_err(|e| {
        errors(
            file,
            "relay.audit_dir",
            ErrorKind::Invalid,
            format!("cannot open the relay's audit trail: {e}"),
        )
    })
}

fn audit_level(l: AuditLevel) -> Level {
    match l {
        AuditLevel::Security => Level::Security,
        AuditLevel::All => Level::All,
        AuditLevel::Off => Level::Off,
    }
}

/// The front-door settings of `file`, reading every key file it names; failures go to
/// `audit`. Connectors register only for the file's tenants (and their `locations`).
pub fn front_auth_from_file(
    file: &RelayFile,
    audit: Arc<dyn AuthAudit>,
) -> Result<FrontAuth, ConfigErrors> {
    let mut problems = Vec::new();
    let mut providers = Vec::with_capacity(file.identity_providers.len());
    for (i, idp) in file.identity_providers.iter().enumerate() {
        let path = format!("identity_provider[{i}]");
        let mut keys = Vec::new();
        if let Some(jwks) = &idp.jwks {
            match read_key_file(jwks).and_then(|b| {
                VerifyKey::from_jwks(&b).map_err(|e| format!("{}: {e}", jwks.display()))
            }) {
                Ok(ks) => keys.extend(ks),
                Err(e) => problems.push((format!("{path}.jwks"), e)),
            }
        }
        for (j, k) in idp.keys.iter().enumerate() {
            match read_key_file(&k.file).and_then(|b| {
                VerifyKey::from_pem(&b, k.kid.clone())
                    .map_err(|e| format!("{}: {e}", k.file.display()))
            }) {
                Ok(key) => keys.push(key),
                Err(e) => problems.push((format!("{path}.key[{j}].file"), e)),
            }
        }
        let mut algorithms = Vec::with_capacity(idp.algorithms.len());
        for a in &idp.algorithms {
            match a.name().parse::<Alg>() {
                Ok(alg) => algorithms.push(alg),
                Err(e) => problems.push((format!("{path}.algorithms"), e.to_string())),
            }
        }
        providers.push(IdentityProvider {
            name: idp.name.clone(),
            issuer: idp.issuer.clone(),
            audience: idp.audience.clone(),
            algorithms,
            keys,
            tenant_claim: idp.tenant_claim.clone(),
            clock_skew: idp.clock_skew_secs,
        });
    }
    let mut providers = Providers::new(providers);
    providers.max_token_len = file.relay.limits.jwt_max_bytes;

    let mut tenants = HashMap::with_capacity(file.tenants.len());
    for t in &file.tenants {
        let users = t
            .users
            .iter()
            .map(|u| (u.name.clone(), u.password_hash.clone()))
            .collect();
        tenants.insert(
            t.name.clone(),
            TenantAuth {
                users,
                default_location: Some(t.default_location.clone()),
                locations: (!t.locations.is_empty()).then(|| t.locations.clone()),
            },
        );
    }
    if !problems.is_empty() {
        let map = file.source_map();
        return Err(ConfigErrors(
            problems
                .into_iter()
                .map(|(key, msg)| map.error(&key, ErrorKind::MissingFile, msg))
                .collect(),
        ));
    }
    let auth = FrontAuth {
        providers,
        tenants,
        trusted_tenant: file.trusted_tenant().map(|t| t.name.clone()),
        audit,
        configured_tenants_only: true,
    };
    // The file checks already cover these rules; this is the relay's own last word.
    auth.check()
        .map_err(|e| errors(file, "tenant", ErrorKind::Invalid, e.to_string()))?;
    Ok(auth)
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read key file {}: {e}", path.display()))
}

/// The settings of `new` that differ from the running `old` ones and only take effect after a
/// restart (listeners, TLS files, threads, I/O backend, audit trail, limits other than
/// `jwt_max_bytes`), by key.
pub fn restart_only_changes(old: &RelaySettings, new: &RelaySettings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |key: &'static str, differs: bool| {
        if differs {
            changed.push(key);
        }
    };
    check(
        "relay.tunnel_listen",
        old.tunnel_listen != new.tunnel_listen,
    );
    check("relay.http_proxy", old.http_proxy != new.http_proxy);
    check("relay.socks5", old.socks5 != new.socks5);
    check("relay.ca", old.ca != new.ca);
    check("relay.cert", old.cert != new.cert);
    check("relay.key", old.key != new.key);
    check("relay.threads", old.threads != new.threads);
    check("relay.io", old.io != new.io);
    check("relay.audit_dir", old.audit_dir != new.audit_dir);
    check("relay.audit", old.audit != new.audit);
    let mut new_limits = new.limits.clone();
    new_limits.jwt_max_bytes = old.limits.jwt_max_bytes;
    check("relay.limits", old.limits != new_limits);
    changed
}

/// One line describing the front-door settings of `auth`, and which parts differ from `old`.
pub fn reload_summary(old: &RelayFile, new: &RelayFile, auth: &FrontAuth) -> String {
    let keys: usize = auth.providers.providers.iter().map(|p| p.keys.len()).sum();
    let users: usize = auth.tenants.values().map(|t| t.users.len()).sum();
    let mut changed = Vec::new();
    if old.identity_providers != new.identity_providers {
        changed.push("identity providers");
    }
    if old.tenants != new.tenants {
        changed.push("tenants");
    }
    if old.relay.limits.jwt_max_bytes != new.relay.limits.jwt_max_bytes {
        changed.push("jwt_max_bytes");
    }
    let changed = if changed.is_empty() {
        "none in the file (key files re-read)".to_string()
    } else {
        changed.join(", ")
    };
    format!(
        "{} identity provider(s) with {keys} key(s), {} tenant(s), {users} user(s), trusted \
         tenant {}; changed: {changed}",
        auth.providers.providers.len(),
        auth.tenants.len(),
        auth.trusted_tenant.as_deref().unwrap_or("none"),
    )
}

/// Reloads a running relay's front-door settings from its file.
pub struct Reloader {
    path: PathBuf,
    /// The file the relay was started with (restart-only settings are compared with it).
    started: RelayFile,
    /// The file of the settings in force.
    current: RelayFile,
    cell: AuthCell,
    audit: Arc<dyn AuthAudit>,
    sink: Option<AuditSink>,
    /// The running relay's tunnels: those a reload no longer admits are closed.
    registry: Option<Arc<Registry>>,
}

/// What one reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new settings are in force; the summary line.
    Applied(String),
    /// The file was refused and the old settings stay; every error, one per line.
    Rejected(String),
}

impl Reloader {
    /// A reloader for the relay started from `started` (read from `path`), whose front-door
    /// settings are in `cell`. `sink` is the relay's audit trail, if it has one.
    pub fn new(path: &Path, started: RelayFile, cell: AuthCell, sink: Option<AuditSink>) -> Self {
        let audit: Arc<dyn AuthAudit> = match &sink {
            Some(s) => Arc::new(s.clone()),
            None => Arc::new(LogAudit),
        };
        Reloader {
            path: path.to_owned(),
            current: started.clone(),
            started,
            cell,
            audit,
            sink,
            registry: None,
        }
    }

    /// Also closes the tunnels of `registry` whose tenant or location a reload removes
    /// ([`Registry::evict`]); without it they keep serving until they reconnect.
    pub fn closing_tunnels_in(mut self, registry: Arc<Registry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Reads the file again and, when it is valid, swaps the front-door settings. Logs and
    /// audits the outcome (`ConfigChange` with the summary, or `ConfigRejected` with the
    /// errors); an invalid file leaves the running settings untouched.
    pub fn reload(&mut self, trigger: Trigger) -> ReloadOutcome {
        let built = config::load_relay(&self.path).and_then(|file| {
            let auth = front_auth_from_file(&file, self.audit.clone())?;
            Ok((file, auth))
        });
        let (file, auth) = match built {
            Ok(x) => x,
            Err(errs) => return self.reject(trigger, &errs),
        };
        let mut summary = reload_summary(&self.current, &file, &auth);
        if let Err(e) = self.cell.replace(auth) {
            let err = file
                .source_map()
                .error("tenant", ErrorKind::Invalid, e.to_string());
            return self.reject(trigger, &ConfigErrors(vec![err]));
        }
        if let Some(registry) = &self.registry {
            let now = self.cell.current();
            let closed =
                registry.evict(|tenant, location| now.admit_tunnel(tenant, location).is_ok());
            if !closed.is_empty() {
                let list: Vec<String> = closed
                    .iter()
                    .map(|(t, l, n)| format!("{t}/{l} ({n})"))
                    .collect();
                summary.push_str(&format!(
                    "; closing the tunnels no longer admitted: {}",
                    list.join(", ")
                ));
            }
        }
        for w in file.warnings() {
            tracing::warn!("{w}");
        }
        let restart = restart_only_changes(&self.started.relay, &file.relay);
        if !restart.is_empty() {
            tracing::warn!(
                "configuration reload ({trigger}): {} changed but only take effect after a \
                 restart; the running values stay",
                restart.join(", ")
            );
        }
        tracing::info!("configuration reloaded ({trigger}): {summary}");
        if let Some(sink) = &self.sink {
            let mut detail = format!("reload ({trigger}): {summary}");
            if !restart.is_empty() {
                detail.push_str(&format!("; needs a restart: {}", restart.join(", ")));
            }
            record_config_event(sink, EventKind::ConfigChange, &detail);
        }
        self.current = file;
        ReloadOutcome::Applied(summary)
    }

    fn reject(&self, trigger: Trigger, errs: &ConfigErrors) -> ReloadOutcome {
        let lines: Vec<String> = errs.errors().iter().map(ConfigError::to_string).collect();
        for l in &lines {
            tracing::error!("configuration reload ({trigger}) refused: {l}");
        }
        tracing::error!("the running configuration stays in force");
        let text = lines.join("\n");
        if let Some(sink) = &self.sink {
            record_config_event(
                sink,
                EventKind::ConfigRejected,
                &format!("reload ({trigger}) refused, old configuration kept: {text}"),
            );
        }
        ReloadOutcome::Rejected(text)
    }
}

#[cfg(test)]
mod tests;
