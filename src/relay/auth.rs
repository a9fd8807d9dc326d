//! Who may use the front doors: [`FrontAuth`] holds the identity providers (JWT), per-tenant
//! SOCKS5 users (argon2id hashes), the one trusted tenant, and per-tenant locations. Every
//! refusal goes to an [`AuthAudit`] sink.

use crate::auth::{password, Providers};
use crate::proto::hpack::Field;
use bytes::Bytes;
use futures_channel::oneshot;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::front::DEFAULT_LOCATION;

/// Which front door a caller came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Door {
    /// The HTTP forward proxy.
    HttpProxy,
    /// The SOCKS5 door.
    Socks5,
    /// The tunnel listener (a connector registering).
    Tunnel,
}

impl fmt::Display for Door {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Door::HttpProxy => "http-proxy",
            Door::Socks5 => "socks5",
            Door::Tunnel => "tunnel",
        })
    }
}

/// Receives every authentication failure at a front door.
///
/// Until the audit module (`AuditSink::record(Event { kind: AuthFailure, .. }, now)`) is
/// wired in, [`LogAudit`] writes them to the log; the lead plugs the sink in by implementing
/// this trait for it.
pub trait AuthAudit: Send + Sync {
    /// One refused caller: the door, the tenant when known (e.g. a valid token whose location
    /// is not allowed, or a known user with a wrong password), the caller's address, and a
    /// short reason naming the failed check.
    fn auth_failure(&self, door: Door, tenant: Option<&str>, caller: Option<&str>, reason: &str);
}

/// The default [`AuthAudit`]: one `warn` line per failure on target `sallyport::audit`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogAudit;

impl AuthAudit for LogAudit {
    fn auth_failure(&self, door: Door, tenant: Option<&str>, caller: Option<&str>, reason: &str) {
        tracing::warn!(
            target: "sallyport::audit",
            %door,
            tenant = tenant.unwrap_or("-"),
            caller = caller.unwrap_or("-"),
            "authentication failure: {reason}"
        );
    }
}

/// Per-tenant settings of the front doors.
#[derive(Clone, Debug, Default)]
pub struct TenantAuth {
    /// SOCKS5 users: name → argon2id PHC string. Names are unique across all tenants (the
    /// name alone selects the tenant).
    pub users: HashMap<String, String>,
    /// The location used when a caller names none (`None`: [`DEFAULT_LOCATION`]).
    pub default_location: Option<String>,
    /// The connector locations callers may ask for (`None`: any).
    pub locations: Option<Vec<String>>,
}

/// Authentication and tenancy settings of the front doors.
#[derive(Clone)]
pub struct FrontAuth {
    /// Identity providers whose JWTs are accepted (HTTP Bearer and SOCKS5 method 0x80).
    pub providers: Providers,
    /// Tenants with settings; a tenant missing here gets the defaults.
    pub tenants: HashMap<String, TenantAuth>,
    /// The one tenant callers reach without credentials, if the operator names one.
    pub trusted_tenant: Option<String>,
    /// Where authentication failures go.
    pub audit: Arc<dyn AuthAudit>,
    /// Whether connectors register only for tenants in `tenants` (and, when the tenant lists
    /// locations, only for one of them). On for a relay run from a configuration file, where
    /// the tenants are the complete list; off for the command-line quick path, which serves
    /// any tenant the CA certified.
    pub configured_tenants_only: bool,
}

impl fmt::Debug for FrontAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrontAuth")
            .field("providers", &self.providers.providers.len())
            .field("tenants", &self.tenants.keys().collect::<Vec<_>>())
            .field("trusted_tenant", &self.trusted_tenant)
            .field("configured_tenants_only", &self.configured_tenants_only)
            .finish()
    }
}

/// Why a [`FrontAuth`] is refused at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrontAuthError {
    /// Neither providers, users nor a trusted tenant: the doors would let nobody in, and an
    /// operator who forgot the auth settings must hear it rather than run open or dead.
    NoAuthentication,
    /// The same SOCKS5 user name under two tenants.
    DuplicateUser {
        /// The name.
        user: String,
    },
    /// A stored hash is not an argon2 PHC string.
    BadPasswordHash {
        /// The user.
        user: String,
        /// What is wrong.
        reason: String,
    },
    /// A tenant or location name breaks the naming rules.
    BadName(String),
    /// Two providers with the same issuer.
    DuplicateIssuer(String),
}

impl fmt::Display for FrontAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrontAuthError::NoAuthentication => f.write_str(
                "front-door authentication is not configured: give identity providers (JWT), \
                 SOCKS5 users, or name a trusted tenant explicitly",
            ),
            FrontAuthError::DuplicateUser { user } => {
                write!(
                    f,
                    "SOCKS5 user {user:?} is configured under two tenants; names must be unique"
                )
            }
            FrontAuthError::BadPasswordHash { user, reason } => {
                write!(f, "password hash of user {user:?}: {reason}")
            }
            FrontAuthError::BadName(why) => f.write_str(why),
            FrontAuthError::DuplicateIssuer(iss) => {
                write!(f, "two identity providers have the issuer {iss:?}")
            }
        }
    }
}

impl std::error::Error for FrontAuthError {}

/// Who a caller turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The tenant whose connectors serve the caller.
    pub tenant: String,
    /// For logs: `jwt:<provider>:<sub>`, `user:<name>` or `trusted`.
    pub principal: String,
}

/// The HTTP/2 request field naming the caller on every stream the relay opens into a
/// tunnel. The relay removes any field of this name a client sent and sets its own; the
/// connector reads it (for its audit) and removes it before the backend.
pub const CALLER_FIELD: &str = "sallyport-caller";

impl Caller {
    /// The [`CALLER_FIELD`] for this caller: the principal with every byte outside visible
    /// ASCII, and `%` itself, percent-encoded (`%XX`, upper-case hex), so a token subject or a
    /// SOCKS5 user name can neither break the field nor smuggle a second one.
    pub fn field(&self) -> Field {
        Field {
            name: Bytes::from_static(CALLER_FIELD.as_bytes()),
            value: Bytes::from(percent_encode_visible(self.principal.as_bytes())),
            sensitive: false,
        }
    }
}

/// `bytes` with everything but visible ASCII other than `%` (0x21..=0x7E) as `%XX`.
pub fn percent_encode_visible(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

impl FrontAuth {
    /// Whether a connector with this certified identity may register. `Err` names the
    /// refusal (for the log and the audit record).
    pub fn admit_tunnel(&self, tenant: &str, location: &str) -> Result<(), String> {
        if !self.configured_tenants_only {
            return Ok(());
        }
        let Some(settings) = self.tenants.get(tenant) else {
            return Err(format!(
                "tenant '{tenant}' is not configured on this relay: add a [[tenant]] named \
                 '{tenant}' to the relay file, or revoke the connector's certificate"
            ));
        };
        match &settings.locations {
            Some(allowed) if !allowed.iter().any(|a| a == location) => Err(format!(
                "location '{location}' is not among the connector locations of tenant \
                 '{tenant}' ({}); add it to the tenant's `locations` to let it register",
                allowed.join(", ")
            )),
            _ => Ok(()),
        }
    }

    /// Nothing configured yet (no providers, users or trusted tenant; [`FrontAuth::check`]
    /// refuses it until something is added), failures logged by [`LogAudit`].
    pub fn empty() -> FrontAuth {
        FrontAuth {
            providers: Providers::new(Vec::new()),
            tenants: HashMap::new(),
            trusted_tenant: None,
            audit: Arc::new(LogAudit),
            configured_tenants_only: false,
        }
    }

    /// Only a trusted tenant: no credentials asked at either door.
    pub fn trusted(tenant: &str) -> FrontAuth {
        FrontAuth {
            trusted_tenant: Some(tenant.to_owned()),
            ..FrontAuth::empty()
        }
    }

    /// Checks the settings; the relay refuses to start on error.
    pub fn check(&self) -> Result<(), FrontAuthError> {
        let any_user = self.tenants.values().any(|t| !t.users.is_empty());
        if self.providers.is_empty() && !any_user && self.trusted_tenant.is_none() {
            return Err(FrontAuthError::NoAuthentication);
        }
        let name = |what: &'static str, n: &str| {
            crate::tls::check_name(what, n).map_err(|e| FrontAuthError::BadName(e.to_string()))
        };
        if let Some(t) = &self.trusted_tenant {
            name("tenant", t)?;
        }
        let mut seen = HashMap::new();
        for (tenant, settings) in &self.tenants {
            name("tenant", tenant)?;
            for loc in settings
                .default_location
                .iter()
                .chain(settings.locations.iter().flatten())
            {
                name("location", loc)?;
            }
            for (user, phc) in &settings.users {
                if seen.insert(user.as_str(), tenant.as_str()).is_some() {
                    return Err(FrontAuthError::DuplicateUser { user: user.clone() });
                }
                password::check_phc(phc).map_err(|reason| FrontAuthError::BadPasswordHash {
                    user: user.clone(),
                    reason,
                })?;
            }
        }
        let mut issuers = std::collections::HashSet::new();
        for p in &self.providers.providers {
            if !issuers.insert(p.issuer.as_str()) {
                return Err(FrontAuthError::DuplicateIssuer(p.issuer.clone()));
            }
        }
        Ok(())
    }

    /// True when some tenant has SOCKS5 users.
    pub fn has_users(&self) -> bool {
        self.tenants.values().any(|t| !t.users.is_empty())
    }

    /// Verifies a JWT now. A token these settings verified before is answered from their
    /// cache ([`Providers::validate_cached`]: time claims re-checked, failures never cached);
    /// a reload builds new settings and so starts with an empty cache.
    pub fn verify_jwt(&self, token: &[u8]) -> Result<Caller, crate::auth::JwtError> {
        let v = self.providers.validate_cached(token, now_unix())?;
        Ok(Caller {
            tenant: v.tenant,
            principal: format!("jwt:{}:{}", v.provider, v.subject.as_deref().unwrap_or("-")),
        })
    }

    /// The user's tenant and stored hash, if the user exists.
    pub fn user(&self, name: &str) -> Option<(&str, &str)> {
        self.tenants
            .iter()
            .find_map(|(t, s)| s.users.get(name).map(|h| (t.as_str(), h.as_str())))
    }

    /// The location a caller of `tenant` reaches: the one asked for, else the tenant's
    /// default. `Err` names the refusal when the tenant restricts its locations.
    /// With [`FrontAuth::configured_tenants_only`], a tenant missing from `tenants` is refused
    /// too: a token may name any tenant, and a tunnel that registered before a reload removed
    /// its tenant must not stay reachable.
    pub fn location(&self, tenant: &str, asked: Option<&str>) -> Result<String, String> {
        let settings = self.tenants.get(tenant);
        if self.configured_tenants_only && settings.is_none() {
            return Err(format!("tenant '{tenant}' is not configured on this relay"));
        }
        let loc = match asked {
            Some(l) => l,
            None => settings
                .and_then(|s| s.default_location.as_deref())
                .unwrap_or(DEFAULT_LOCATION),
        };
        if let Some(allowed) = settings.and_then(|s| s.locations.as_ref()) {
            if !allowed.iter().any(|a| a == loc) {
                return Err(format!(
                    "location '{loc}' is not among the connector locations of tenant '{tenant}'"
                ));
            }
        }
        Ok(loc.to_owned())
    }
}

/// Verifies `password` for `user` off the I/O thread (argon2 takes tens of milliseconds and
/// 19 MiB). At most `password_gate` checks run at once across the relay, so a flood of
/// logins queues instead of filling the blocking pool (256 threads per I/O thread) with
/// argon2 memory; callers bound their wait with their own deadline.
/// Unknown users cost the same as known ones, so timing does not reveal which names exist.
pub async fn verify_user(auth: &FrontAuth, user: &str, password: Vec<u8>) -> Option<String> {
    let (tenant, phc) = match auth.user(user) {
        Some((t, h)) => (Some(t.to_owned()), h.to_owned()),
        None => (None, dummy_hash().to_owned()),
    };
    let permit = password_gate().acquire().await;
    let ok = compio::runtime::spawn_blocking(move || {
        // Held until argon2 is done, even if the caller stopped waiting.
        let _permit = permit;
        password::verify(&phc, &password)
    })
    .await
    .unwrap_or(false);
    if ok {
        tenant
    } else {
        None
    }
}

/// The relay-wide limit on concurrent password checks: one per core.
fn password_gate() -> &'static Arc<Gate> {
    static GATE: OnceLock<Arc<Gate>> = OnceLock::new();
    GATE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Gate::new(cores))
    })
}

/// A counting semaphore usable from any thread's async code: waiters queue in order, and a
/// released permit goes to the first waiter still waiting.
pub struct Gate {
    max: usize,
    state: Mutex<(usize, VecDeque<oneshot::Sender<Permit>>)>,
}

/// One admission through a [`Gate`], released on drop.
pub struct Permit(Option<Arc<Gate>>);

impl Gate {
    /// A gate admitting `max` holders at once (at least one).
    pub fn new(max: usize) -> Gate {
        Gate {
            max: max.max(1),
            state: Mutex::new((0, VecDeque::new())),
        }
    }

    /// Waits for a permit.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        let rx = {
            let mut st = self.lock();
            if st.0 < self.max {
                st.0 += 1;
                return Permit(Some(self.clone()));
            }
            let (tx, rx) = oneshot::channel();
            st.1.push_back(tx);
            rx
        };
        // The sender is only dropped after handing a permit over or when the gate is gone
        // (never: it is static); a cancelled hand-over gives the permit back.
        rx.await.unwrap_or(Permit(None))
    }

    /// Holders right now (for tests).
    pub fn in_use(&self) -> usize {
        self.lock().0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, VecDeque<oneshot::Sender<Permit>>)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(self: &Arc<Self>) {
        loop {
            let next = {
                let mut st = self.lock();
                match st.1.pop_front() {
                    Some(tx) => tx,
                    None => {
                        st.0 = st.0.saturating_sub(1);
                        return;
                    }
                }
            };
            // The count stays: the permit moves to the waiter. If that waiter has gone, the
            // returned permit must not run its drop (it would release twice): defuse it.
            match next.send(Permit(Some(self.clone()))) {
                Ok(()) => return,
                Err(mut unsent) => unsent.0 = None,
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            gate.release();
        }
    }
}

/// A hash nobody's password matches, computed once, for unknown user names.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        password::hash(b"sallyport: no such user, this hash only burns the same time")
            .unwrap_or_default()
    })
}

/// Seconds since the Unix epoch (0 if the clock is before 1970, which fails every `exp`).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_user(tenant: &str, user: &str) -> FrontAuth {
        let mut a = FrontAuth::empty();
        let t = a.tenants.entry(tenant.into()).or_default();
        t.users.insert(user.into(), password::hash(b"pw").unwrap());
        a
    }

    #[test]
    fn refuses_a_door_without_authentication() {
        assert_eq!(FrontAuth::trusted("acme").check(), Ok(()));
        let a = FrontAuth::empty();
        assert_eq!(a.check(), Err(FrontAuthError::NoAuthentication));
        assert!(a
            .check()
            .unwrap_err()
            .to_string()
            .contains("trusted tenant"));
    }

    #[test]
    fn users_are_unique_and_hashed() {
        let mut a = with_user("acme", "alice");
        assert_eq!(a.check(), Ok(()));
        assert_eq!(a.user("alice").map(|u| u.0), Some("acme"));
        assert!(a.has_users());
        a.tenants
            .entry("beta".into())
            .or_default()
            .users
            .insert("alice".into(), password::hash(b"x").unwrap());
        assert!(matches!(
            a.check(),
            Err(FrontAuthError::DuplicateUser { .. })
        ));
        let mut b = with_user("acme", "bob");
        b.tenants
            .get_mut("acme")
            .unwrap()
            .users
            .insert("bob".into(), "plain".into());
        assert!(matches!(
            b.check(),
            Err(FrontAuthError::BadPasswordHash { .. })
        ));
    }

    #[test]
    fn locations() {
        let mut a = FrontAuth::trusted("acme");
        assert_eq!(a.location("acme", None).unwrap(), DEFAULT_LOCATION);
        assert_eq!(a.location("acme", Some("rome")).unwrap(), "rome");
        a.tenants.insert(
            "acme".into(),
            TenantAuth {
                default_location: Some("berlin".into()),
                locations: Some(vec!["berlin".into()]),
                ..Default::default()
            },
        );
        assert_eq!(a.location("acme", None).unwrap(), "berlin");
        assert!(a
            .location("acme", Some("rome"))
            .unwrap_err()
            .contains("rome"));
        a.tenants.get_mut("acme").unwrap().default_location = Some("Bad Name".into());
        assert!(matches!(a.check(), Err(FrontAuthError::BadName(_))));
    }

    #[test]
    fn tunnels_register_only_for_configured_tenants_and_locations() {
        let mut a = FrontAuth::trusted("acme");
        assert_eq!(
            a.admit_tunnel("ghost", "default"),
            Ok(()),
            "quick path: any"
        );
        a.configured_tenants_only = true;
        a.tenants.insert("acme".into(), TenantAuth::default());
        a.tenants.insert(
            "beta".into(),
            TenantAuth {
                locations: Some(vec!["berlin".into()]),
                ..Default::default()
            },
        );
        assert_eq!(a.admit_tunnel("acme", "anywhere"), Ok(()));
        assert_eq!(a.location("acme", None).as_deref(), Ok("default"));
        let e = a.location("ghost", None).unwrap_err();
        assert!(e.contains("'ghost' is not configured"), "{e}");
        assert_eq!(a.admit_tunnel("beta", "berlin"), Ok(()));
        let e = a.admit_tunnel("ghost", "default").unwrap_err();
        assert!(e.contains("'ghost' is not configured"), "{e}");
        let e = a.admit_tunnel("beta", "rome").unwrap_err();
        assert!(e.contains("'rome'") && e.contains("berlin"), "{e}");
    }

    #[test]
    fn the_caller_field_cannot_be_broken_by_its_principal() {
        let field = |p: &str| {
            let c = Caller {
                tenant: "acme".into(),
                principal: p.into(),
            };
            let f = c.field();
            assert_eq!(&f.name[..], CALLER_FIELD.as_bytes());
            String::from_utf8(f.value.to_vec()).unwrap()
        };
        assert_eq!(
            field("jwt:corp:alice@example.com"),
            "jwt:corp:alice@example.com"
        );
        assert_eq!(field("user:a b\r\nx: y"), "user:a%20b%0D%0Ax:%20y");
        assert_eq!(field("user:100%"), "user:100%25");
        assert_eq!(field("user:\u{e9}"), "user:%C3%A9");
    }

    proptest::proptest! {
        #[test]
        fn caller_field_values_are_visible_ascii_and_decode_back(p in ".{0,40}") {
            let v = percent_encode_visible(p.as_bytes());
            proptest::prop_assert!(v.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            proptest::prop_assert_eq!(out, p.as_bytes());
        }
    }

    #[test]
    fn gate_admits_at_most_max_and_hands_permits_over() {
        let gate = Arc::new(Gate::new(2));
        let rt = compio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let a = gate.acquire().await;
            let b = gate.acquire().await;
            assert_eq!(gate.in_use(), 2);
            // A third waits; a fourth gives up (its future is dropped while queued).
            let g = gate.clone();
            let third = compio::runtime::spawn(async move { g.acquire().await });
            {
                let mut fourth = std::pin::pin!(gate.acquire());
                assert!(futures_util::poll!(fourth.as_mut()).is_pending());
            }
            compio::runtime::time::sleep(std::time::Duration::from_millis(10)).await;
            assert!(!third.is_finished());
            drop(a);
            let c = third.await.unwrap();
            assert_eq!(gate.in_use(), 2, "the permit moved to the waiter");
            drop(b);
            drop(c);
            assert_eq!(
                gate.in_use(),
                0,
                "the abandoned waiter did not keep a permit"
            );
        });
    }

    #[test]
    fn password_check_off_thread() {
        let a = with_user("acme", "alice");
        let rt = compio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            assert_eq!(
                verify_user(&a, "alice", b"pw".to_vec()).await.as_deref(),
                Some("acme")
            );
            assert_eq!(verify_user(&a, "alice", b"pX".to_vec()).await, None);
            assert_eq!(verify_user(&a, "mallory", b"pw".to_vec()).await, None);
        });
    }
}
