//! A connector's identity (tenant + location) and how it is carried in its client certificate.

use std::fmt;

use rustls_pki_types::CertificateDer;

use super::TlsError;

/// The URI prefix of an identity; see [`Identity::uri`].
pub const URI_PREFIX: &str = "sallyport://tenant/";
/// What separates the tenant from the location in an identity URI.
const LOCATION_SEP: &str = "/location/";
/// The longest tenant or location name (a DNS label's limit, so names fit wherever labels do).
pub const MAX_NAME_LEN: usize = 63;

/// Who a connector is: a tenant (subaccount) and one of its locations.
///
/// The identity is carried **only** in the connector's client certificate, as exactly one
/// subject-alternative-name URI of the form
///
/// ```text
/// sallyport://tenant/<tenant>/location/<location>
/// ```
///
/// Both names follow one rule (checked by [`Identity::new`] and [`Identity::parse_uri`]):
/// 1 to 63 characters from `[a-z0-9._-]`, not starting with `.` or `-`. Lower case only, so
/// one identity has one spelling; no `/`, `%` or `:`, so the URI needs no escaping and splits
/// unambiguously; no leading `.` so `.` and `..` are impossible; no leading `-` so a name is
/// never mistaken for a command-line option.
///
/// The fields are public for reading and pattern matching; build values with
/// [`Identity::new`] so the rule holds (code that builds one literally must uphold it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// The tenant (subaccount) name.
    pub tenant: String,
    /// The location name, unique within the tenant.
    pub location: String,
}

impl Identity {
    /// Builds an identity, checking both names against the rule in [`Identity`].
    pub fn new(tenant: &str, location: &str) -> Result<Self, TlsError> {
        check_name("tenant", tenant)?;
        check_name("location", location)?;
        Ok(Self {
            tenant: tenant.to_owned(),
            location: location.to_owned(),
        })
    }

    /// The SAN URI for this identity: `sallyport://tenant/<tenant>/location/<location>`.
    pub fn uri(&self) -> String {
        format!("{URI_PREFIX}{}{LOCATION_SEP}{}", self.tenant, self.location)
    }

    /// Parses a SAN URI made by [`Identity::uri`]. The match is exact: lower-case scheme, no
    /// trailing slash, query, fragment, port or percent-escapes.
    pub fn parse_uri(uri: &str) -> Result<Self, TlsError> {
        let bad = |reason: String| TlsError::InvalidIdentity {
            input: uri.to_owned(),
            reason,
        };
        let rest = uri
            .strip_prefix(URI_PREFIX)
            .ok_or_else(|| bad(format!("does not start with `{URI_PREFIX}`")))?;
        let (tenant, location) = rest
            .split_once(LOCATION_SEP)
            .ok_or_else(|| bad(format!("has no `{LOCATION_SEP}` after the tenant")))?;
        Self::new(tenant, location).map_err(|e| match e {
            TlsError::InvalidIdentity { reason, .. } => bad(reason),
            other => other,
        })
    }
}

impl fmt::Display for Identity {
    /// `tenant/location`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.location)
    }
}

/// Checks one tenant or location name against the rule documented on [`Identity`].
pub fn check_name(what: &'static str, name: &str) -> Result<(), TlsError> {
    let bad = |reason: String| TlsError::InvalidIdentity {
        input: name.to_owned(),
        reason: format!("{what} name {reason}"),
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(bad(format!(
            "must be 1 to {MAX_NAME_LEN} characters long (is {})",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        return Err(bad(format!(
            "contains {c:?}; allowed are a-z, 0-9, `.`, `_` and `-`"
        )));
    }
    if name.starts_with(['.', '-']) {
        return Err(bad("must not start with `.` or `-`".to_owned()));
    }
    Ok(())
}

/// The identity in a peer's certificate chain: the leaf's single `sallyport://` SAN URI.
///
/// Call this only with a chain rustls has already verified (`peer_certificates()` after the
/// handshake): it reads the name and does not check signatures. The same URI appearing twice
/// is accepted; no URI, two different ones, or a malformed one is an error.
pub fn identity_from_certs(chain: &[CertificateDer<'_>]) -> Result<Identity, TlsError> {
    let leaf = chain.first().ok_or(TlsError::PeerNoCertificate)?;
    let cert = webpki::EndEntityCert::try_from(leaf).map_err(TlsError::PeerCertificate)?;
    let mut found: Option<Identity> = None;
    let mut others = Vec::new();
    for uri in cert.valid_uri_names() {
        // Everything with our scheme must parse; a near-miss is an error, not "no identity".
        if !uri.starts_with("sallyport:") {
            others.push(uri.to_owned());
            continue;
        }
        let id = Identity::parse_uri(uri)?;
        match &found {
            Some(prev) if *prev != id => {
                return Err(TlsError::AmbiguousIdentity {
                    uris: vec![prev.uri(), id.uri()],
                })
            }
            _ => found = Some(id),
        }
    }
    found.ok_or(TlsError::NoIdentity { other_uris: others })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NAME: &str = "[a-z0-9_][a-z0-9._-]{0,62}";

    #[test]
    fn uri_format() {
        let id = Identity::new("acme", "berlin-dc1").unwrap();
        assert_eq!(id.uri(), "sallyport://tenant/acme/location/berlin-dc1");
        assert_eq!(id.to_string(), "acme/berlin-dc1");
        assert_eq!(Identity::parse_uri(&id.uri()).unwrap(), id);
    }

    #[test]
    fn rejects_bad_names_and_uris() {
        for bad in [
            "", ".", "..", ".a", "-a", "A", "a/b", "a b", "ä", "a%2f", "a:b",
        ] {
            assert!(Identity::new(bad, "l").is_err(), "tenant {bad:?}");
            assert!(Identity::new("t", bad).is_err(), "location {bad:?}");
        }
        assert!(Identity::new(&"a".repeat(64), "l").is_err());
        assert!(Identity::new(&"a".repeat(63), "l").is_ok());
        for bad in [
            "sallyport://tenant/t/location/",
            "sallyport://tenant//location/l",
            "sallyport://tenant/t/location/l/",
            "sallyport://tenant/t/location/l?x",
            "sallyport://tenant/t/location/l#x",
            "sallyport://tenant/t/location/l/location/m",
            "SALLYPORT://tenant/t/location/l",
            "sallyport://tenant/t/loc/l",
            "sallyport://tenant/t",
            "https://tenant/t/location/l",
            "sallyport://tenant/t:1/location/l",
        ] {
            let err = Identity::parse_uri(bad).unwrap_err();
            assert!(
                matches!(err, TlsError::InvalidIdentity { ref input, .. } if input == bad),
                "{bad}: {err}"
            );
        }
        let msg = Identity::parse_uri("sallyport://tenant/T/location/l")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("tenant name contains 'T'"), "{msg}");
    }

    proptest! {
        #[test]
        fn parse_of_format_is_identity(tenant in NAME, location in NAME) {
            let id = Identity::new(&tenant, &location).unwrap();
            prop_assert_eq!(Identity::parse_uri(&id.uri()).unwrap(), id);
        }

        #[test]
        fn names_with_a_bad_char_are_rejected(prefix in NAME, bad in "[^a-z0-9._-]", suffix in "[a-z0-9]{0,3}") {
            let name = format!("{prefix}{bad}{suffix}");
            prop_assert!(Identity::new(&name, "l").is_err());
            prop_assert!(Identity::new("t", &name).is_err());
        }

        #[test]
        fn names_with_a_bad_start_are_rejected(first in "[.-]", rest in "[a-z0-9]{0,10}") {
            let name = format!("{first}{rest}");
            prop_assert!(Identity::new(&name, "l").is_err());
        }

        #[test]
        fn parse_uri_never_panics(s in "\\PC{0,80}") {
            let _ = Identity::parse_uri(&s);
            let _ = Identity::parse_uri(&format!("{URI_PREFIX}{s}"));
        }
    }
}
