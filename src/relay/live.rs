//! What changes while the relay runs: the front-door settings behind an [`AuthCell`], swapped
//! whole on reload, and the relay's audit trail as an [`AuthAudit`].
//!
//! Every front-door request (HTTP) or handshake (SOCKS5) and every tunnel registration takes
//! one snapshot of the cell and uses it to the end, so a reload never mixes old and new
//! settings within one decision; in-flight requests finish under the settings they started
//! with.

use super::auth::{AuthAudit, Door, FrontAuth, FrontAuthError};
use crate::audit::{AuditSink, Event, EventKind};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// The current [`FrontAuth`], shared by every relay thread. Cheap to clone (clones share).
#[derive(Clone, Debug)]
pub struct AuthCell(Arc<RwLock<Arc<FrontAuth>>>);

impl AuthCell {
    /// A cell holding `auth` (not checked here; [`super::start`] checks it).
    pub fn new(auth: FrontAuth) -> AuthCell {
        AuthCell(Arc::new(RwLock::new(Arc::new(auth))))
    }

    /// The settings in force now.
    pub fn current(&self) -> Arc<FrontAuth> {
        // A poisoned lock still holds a complete value: the write is a single pointer swap.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Checks `auth` and, if it passes, makes it the settings of every later request and
    /// handshake. On error nothing changes.
    pub fn replace(&self, auth: FrontAuth) -> Result<(), FrontAuthError> {
        auth.check()?;
        let new = Arc::new(auth);
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(())
    }
}

/// The relay's audit trail: one `AuthFailure` record per refused caller or connector, with
/// the door in `target` (`http-proxy`, `socks5`, `tunnel`), the caller's address in `caller`
/// and the failed check in `reason`. The location is `-` (front-door refusals happen before
/// a location is chosen, or name it in the reason).
impl AuthAudit for AuditSink {
    fn auth_failure(&self, door: Door, tenant: Option<&str>, caller: Option<&str>, reason: &str) {
        let mut ev = Event::new(EventKind::AuthFailure, tenant.unwrap_or("-"), "-");
        ev.target = Some(door.to_string());
        ev.caller = caller.map(str::to_owned);
        ev.reason = Some(reason.to_owned());
        if let Err(e) = self.record(ev, SystemTime::now()) {
            tracing::error!(%door, "relay audit record not written: {e}");
        }
        // The log line too: operators watching the log see refusals without reading the trail.
        super::auth::LogAudit.auth_failure(door, tenant, caller, reason);
    }
}

/// Records a configuration event (`ConfigChange` or `ConfigRejected`) of the relay, with
/// `detail` saying what changed or why the file was refused.
pub fn record_config_event(sink: &AuditSink, kind: EventKind, detail: &str) {
    let mut ev = Event::new(kind, "-", "-");
    ev.detail = Some(detail.to_owned());
    if let Err(e) = sink.record(ev, SystemTime::now()) {
        tracing::error!("relay audit record not written: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditOptions;

    #[test]
    fn replace_checks_first_and_keeps_the_old_settings_on_error() {
        let cell = AuthCell::new(FrontAuth::trusted("acme"));
        let before = cell.current();
        assert!(cell.replace(FrontAuth::empty()).is_err());
        assert!(Arc::ptr_eq(&before, &cell.current()), "old settings stay");
        cell.replace(FrontAuth::trusted("beta")).expect("valid");
        assert_eq!(cell.current().trusted_tenant.as_deref(), Some("beta"));
        assert_eq!(
            before.trusted_tenant.as_deref(),
            Some("acme"),
            "a snapshot taken before the swap is unchanged"
        );
    }

    #[test]
    fn replaced_keys_do_not_inherit_cached_tokens() {
        use crate::auth::{Alg, IdentityProvider, JwtError, Providers, Signer};
        // Two keys under the same `kid`: only the key material tells them apart.
        let signer = || {
            let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
            Signer::from_pkcs8_pem(kp.serialize_pem().as_bytes(), Some("k".into())).expect("pem")
        };
        let with_key = |s: &Signer| FrontAuth {
            providers: Providers::new(vec![IdentityProvider {
                name: "idp".into(),
                issuer: "https://idp.example".into(),
                audience: "sallyport".into(),
                algorithms: vec![Alg::ES256],
                keys: vec![s.verify_key()],
                tenant_claim: "zid".into(),
                clock_skew: 0,
            }]),
            ..FrontAuth::empty()
        };
        let (old, new) = (signer(), signer());
        let exp = super::super::auth::now_unix() + 300;
        let token = old
            .issue(&serde_json::json!({
                "iss": "https://idp.example", "aud": "sallyport", "zid": "acme", "exp": exp,
            }))
            .expect("token");
        let cell = AuthCell::new(with_key(&old));
        for _ in 0..2 {
            let caller = cell.current().verify_jwt(token.as_bytes()).expect("valid");
            assert_eq!(caller.tenant, "acme");
        }
        assert_eq!(cell.current().providers.cache().len(), 1);
        cell.replace(with_key(&new)).expect("valid settings");
        assert_eq!(
            cell.current().verify_jwt(token.as_bytes()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn the_audit_sink_records_auth_failures_and_config_events() {
        let dir = std::env::temp_dir().join(format!("sp-relay-live-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sink = AuditSink::open(AuditOptions::new(&dir, "relay")).expect("open");
        sink.auth_failure(
            Door::Tunnel,
            Some("ghost"),
            Some("127.0.0.1:9"),
            "tenant 'ghost' is not configured",
        );
        record_config_event(&sink, EventKind::ConfigRejected, "bad file");
        sink.tick(SystemTime::now()).expect("tick");
        let day = std::fs::read_dir(dir.join("relay"))
            .expect("dir")
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .expect("day file");
        let text = std::fs::read_to_string(day.path()).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        let auth = lines
            .iter()
            .find(|l| l["kind"] == "auth_failure")
            .expect("auth failure record");
        assert_eq!(auth["tenant"], "ghost");
        assert_eq!(auth["target"], "tunnel");
        assert_eq!(auth["caller"], "127.0.0.1:9");
        assert!(auth["reason"].as_str().unwrap_or("").contains("ghost"));
        assert!(lines
            .iter()
            .any(|l| l["kind"] == "config_rejected" && l["detail"] == "bad file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
