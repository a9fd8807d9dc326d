//! Unit tests of the policy: path rules, compile errors, decisions, the token's derived values.
