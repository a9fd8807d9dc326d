//! JWT validation on arbitrary bytes. Input: `[mode]` + bytes.
//!
//! Mode bit 0 clear: the bytes are the token, as a client would send it. Set: the bytes are
//! `header 0xff payload`, base64url-encoded and signed with the provider's own ES256 key, so
//! fuzzer-chosen headers and claims get past the signature to the claim checks.
//!
//! Besides "no panic" it checks that an accepted token has a tenant that is a valid name, an
//! `exp` within the skew of now, and that any unsigned input (mode 0 without a real signature)
//! is never accepted.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sallyport::auth::{Alg, IdentityProvider, Providers, Signer};
use std::sync::OnceLock;

const NOW: u64 = 1_800_000_000;
const KEY: &[u8] = include_bytes!("../../tests/data/jwt/es256-test-private.pem");

fn setup() -> &'static (Signer, Providers) {
    static S: OnceLock<(Signer, Providers)> = OnceLock::new();
    S.get_or_init(|| {
        let signer = Signer::from_pkcs8_pem(KEY, Some("k".into())).expect("test key");
        let mut providers = Providers::new(vec![IdentityProvider {
            name: "idp".into(),
            issuer: "i".into(),
            audience: "a".into(),
            algorithms: Alg::ALL.to_vec(),
            keys: vec![signer.verify_key()],
            tenant_claim: "zid".into(),
            clock_skew: 60,
        }]);
        providers.max_token_len = 4096;
        (signer, providers)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let (signer, providers) = setup();
    let token = if mode & 1 == 0 {
        input.to_vec()
    } else {
        let (header, payload) = match input.iter().position(|b| *b == 0xff) {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => (input, &b"{}"[..]),
        };
        let mut t = URL_SAFE_NO_PAD.encode(header);
        t.push('.');
        t.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let Ok(sig) = signer.sign(t.as_bytes()) else {
            return;
        };
        t.push('.');
        t.push_str(&URL_SAFE_NO_PAD.encode(sig));
        t.into_bytes()
    };
    if let Ok(v) = providers.validate(&token, NOW) {
        assert!(mode & 1 == 1, "a token the fuzzer made without the key was accepted");
        assert!(sallyport::tls::check_name("tenant", &v.tenant).is_ok());
        assert!(v.expires_at + 60 >= NOW);
    }
});
