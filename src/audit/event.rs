//! What an audit record says: the level setting, the kinds of event and which level records
//! which, and the record's JSON body.

use std::time::Duration;

use serde::Serialize;

/// How much a subaccount's audit trail records.
#[derive(serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Security-relevant events only: denials, authentication failures, configuration changes
    /// and the sink's own housekeeping (the default, as in SAP Cloud Connector).
    #[default]
    Security,
    /// Everything `Security` records plus every allowed request.
    All,
    /// Nothing.
    Off,
}

/// The kind of an audited event. [`EventKind::min_level`] says which level records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A request the whitelist allowed and the connector forwarded (whatever the backend
    /// answered). Level `All` only.
    Request,
    /// A request refused by policy: no mapping for the virtual host, path not whitelisted,
    /// protocol not allowed. Levels `Security` and `All`.
    Denied,
    /// A peer failed authentication (bad client certificate, wrong identity, bad proxy
    /// credentials). Levels `Security` and `All`.
    AuthFailure,
    /// A configuration change was applied. Levels `Security` and `All`.
    ConfigChange,
    /// A configuration change was rejected (invalid file, failed validation). Levels
    /// `Security` and `All`.
    ConfigRejected,
    /// A tunnel to the relay was established or lost. Level `All` only.
    Tunnel,
    /// The sink deleted day files past the retention period (written by the sink itself).
    /// Levels `Security` and `All`.
    Retention,
}

impl EventKind {
    /// The least inclusive level that records this kind.
    pub fn min_level(self) -> Level {
        match self {
            EventKind::Request | EventKind::Tunnel => Level::All,
            EventKind::Denied
            | EventKind::AuthFailure
            | EventKind::ConfigChange
            | EventKind::ConfigRejected
            | EventKind::Retention => Level::Security,
        }
    }

    /// Whether a sink at `level` records this kind.
    pub fn recorded_at(self, level: Level) -> bool {
        match level {
            Level::Off => false,
            Level::All => true,
            Level::Security => self.min_level() == Level::Security,
        }
    }

    /// The `kind` value in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Request => "request",
            EventKind::Denied => "denied",
            EventKind::AuthFailure => "auth_failure",
            EventKind::ConfigChange => "config_change",
            EventKind::ConfigRejected => "config_rejected",
            EventKind::Tunnel => "tunnel",
            EventKind::Retention => "retention",
        }
    }
}

/// The outcome of the decision an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Allowed / applied.
    Allow,
    /// Refused / rejected.
    Deny,
}

/// One audited event, as the caller describes it. The sink adds the sequence number, time and
/// chain hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The subaccount's tenant.
    pub tenant: String,
    /// The connector's location id.
    pub location: String,
    /// Who asked: the relay-asserted caller identity, the peer certificate's identity, or the
    /// administrator for configuration changes.
    pub caller: Option<String>,
    /// The virtual `host:port` the request addressed.
    pub target: Option<String>,
    /// HTTP method (or `CONNECT` / protocol name for TCP).
    pub method: Option<String>,
    /// Request path (without query string, so secrets in queries do not reach the audit log).
    pub path: Option<String>,
    /// Allowed or refused.
    pub decision: Decision,
    /// Why it was refused (or what rule allowed it).
    pub reason: Option<String>,
    /// The HTTP status sent to the caller.
    pub status: Option<u16>,
    /// Bytes from the caller to the backend.
    pub bytes_in: u64,
    /// Bytes from the backend to the caller.
    pub bytes_out: u64,
    /// How long the request took.
    pub duration: Duration,
    /// Free text: for configuration events, what changed.
    pub detail: Option<String>,
}

impl Event {
    /// An event of `kind` for `tenant`/`location` with every optional field empty, decision
    /// `Deny` for denials and failures and `Allow` otherwise.
    pub fn new(kind: EventKind, tenant: &str, location: &str) -> Self {
        let decision = match kind {
            EventKind::Denied | EventKind::AuthFailure | EventKind::ConfigRejected => {
                Decision::Deny
            }
            EventKind::Request
            | EventKind::ConfigChange
            | EventKind::Tunnel
            | EventKind::Retention => Decision::Allow,
        };
        Self {
            kind,
            tenant: tenant.to_owned(),
            location: location.to_owned(),
            caller: None,
            target: None,
            method: None,
            path: None,
            decision,
            reason: None,
            status: None,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
            detail: None,
        }
    }
}

/// The canonical body of an event record: the members in this order, then `hash` is appended
/// by [`super::chain::seal`].
#[derive(Serialize)]
pub(crate) struct RecordBody<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub kind: &'static str,
    pub tenant: &'a str,
    pub location: &'a str,
    pub caller: Option<&'a str>,
    pub target: Option<&'a str>,
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub decision: Decision,
    pub reason: Option<&'a str>,
    pub status: Option<u16>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_us: u64,
    pub detail: Option<&'a str>,
    pub prev: &'a str,
}

impl<'a> RecordBody<'a> {
    /// The body of `ev` at `seq`, `time`, chained to `prev`.
    pub(crate) fn new(ev: &'a Event, seq: u64, time: &'a str, prev: &'a str) -> Self {
        Self {
            seq,
            time,
            kind: ev.kind.as_str(),
            tenant: &ev.tenant,
            location: &ev.location,
            caller: ev.caller.as_deref(),
            target: ev.target.as_deref(),
            method: ev.method.as_deref(),
            path: ev.path.as_deref(),
            decision: ev.decision,
            reason: ev.reason.as_deref(),
            status: ev.status,
            bytes_in: ev.bytes_in,
            bytes_out: ev.bytes_out,
            duration_us: u64::try_from(ev.duration.as_micros()).unwrap_or(u64::MAX),
            detail: ev.detail.as_deref(),
            prev,
        }
    }
}

/// The members every line has, as verify and resume read them back. Other members are covered
/// by the hash but not interpreted.
#[derive(serde::Deserialize)]
pub(crate) struct LineHead {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub prev: String,
    /// Checkpoints only: the subaccount they sign for.
    #[serde(default)]
    pub subaccount: Option<String>,
    /// Checkpoints only: the signer's public key (uncompressed P-256 point, hex).
    #[serde(default)]
    pub key: Option<String>,
}
