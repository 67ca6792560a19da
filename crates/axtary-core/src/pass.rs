//! ActionPass: a signed, short-lived, single-use token for one allowed action (DESIGN.md §6).
//!
//! A pass is a compact JWS (RFC 7515) signed with Ed25519 (`alg: EdDSA`, RFC 8037) and typed
//! `typ: axtary-pass+jwt` (RFC 8725 explicit typing), so any service can verify it with a
//! standard JOSE library and the node's public key. Verification here never trusts the header's
//! `alg`: it is pinned, and so are `typ`, the key id, the audience, the lifetime and the action
//! hash. A [`VerifiedPass`] can only be built by [`verify`]; connectors accept nothing else.
//!
//! This module is pure: the clock (`now`), the random `jti` and the used-`jti` store are passed
//! in by the caller.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::action::ActionHash;
use crate::json::{self, Limits};

/// The JOSE `typ` of every pass.
pub const PASS_TYP: &str = "axtary-pass+jwt";
/// Version of the claim set.
pub const PASS_VERSION: u32 = 1;
/// Default lifetime of a pass, in seconds.
pub const DEFAULT_LIFETIME_SECS: i64 = 60;
/// Longest lifetime a pass may have, in seconds; longer ones are refused when minted and verified.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on `iat` and `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 5;
/// Longest token accepted, so a hostile token cannot make verification allocate much.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The claims of a pass. (contract: DESIGN.md §3)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassClaims {
    pub v: u32,
    /// 128-bit random id, 32 lower-case hex digits; used at most once.
    pub jti: String,
    /// Key id of the node key that signed the pass.
    pub iss: String,
    /// The agent the pass was issued to.
    pub sub: String,
    /// The connector that may execute it.
    pub aud: String,
    pub op: String,
    pub res: String,
    /// The action hash the pass authorizes.
    pub ah: ActionHash,
    /// Ledger sequence number of the decision.
    pub dec: u64,
    /// Approval ids that authorized it (empty when policy allowed it outright).
    pub apr: Vec<String>,
    /// Hash of the policy that decided.
    pub pol: ActionHash,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
}

/// A node's Ed25519 signing key and its key id.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
    kid: String,
}

impl NodeKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let kid = key_id(&signing.verifying_key());
        Self { signing, kid }
    }

    pub fn key_id(&self) -> &str {
        &self.kid
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Signs arbitrary bytes (ledger checkpoints, approvals).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("NodeKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The key id of a public key: 16 hex digits of SHA-256 over a domain tag and the key.
pub fn key_id(key: &VerifyingKey) -> String {
    let mut h = Sha256::new();
    h.update(b"axtary-key-id-v1\n");
    h.update(key.as_bytes());
    crate::hex::encode(&h.finalize()[..8])
}

/// Why a pass could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("pass lifetime must be between 1 and {MAX_LIFETIME_SECS} seconds")]
    Lifetime,
    #[error("`jti` must be 32 lower-case hex digits (128 random bits)")]
    Jti,
    #[error("`iss` must be the signing key's id")]
    Issuer,
}

/// Signs `claims` with `key` into a compact JWS.
pub fn mint(claims: &PassClaims, key: &NodeKey) -> Result<String, MintError> {
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
        return Err(MintError::Lifetime);
    }
    if !is_jti(&claims.jti) {
        return Err(MintError::Jti);
    }
    if claims.iss != key.kid {
        return Err(MintError::Issuer);
    }
    let header = Header {
        alg: "EdDSA".into(),
        kid: key.kid.clone(),
        typ: PASS_TYP.into(),
    };
    // INVARIANT: both structs serialize infallibly (strings, integers, vectors of strings).
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    Ok(token)
}

fn is_jti(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a pass was refused. Every variant is a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassError {
    #[error("pass is malformed: {0}")]
    Malformed(String),
    #[error("pass header is not accepted: {0}")]
    Header(String),
    #[error("pass was signed by unknown key `{0}`")]
    UnknownKey(String),
    #[error("pass signature is invalid")]
    Signature,
    #[error("pass is for connector `{got}`, not `{expected}`")]
    Audience { expected: String, got: String },
    #[error("pass was issued to agent `{got}`, not `{expected}`")]
    Subject { expected: String, got: String },
    #[error("pass authorizes action {authorized}, but the action about to run is {actual}")]
    ActionHash {
        authorized: ActionHash,
        actual: ActionHash,
    },
    #[error("pass expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
    #[error("pass is not valid yet (issued at {iat}, now {now})")]
    NotYetValid { iat: i64, now: i64 },
    #[error("pass lifetime exceeds {MAX_LIFETIME_SECS} seconds")]
    Lifetime,
    #[error("pass `{0}` was already used")]
    Replayed(String),
    #[error("cannot record pass use: {0}")]
    Store(String),
}

/// Remembers which pass ids were used. Implementations must make `claim` atomic and durable
/// before returning `Ok(true)`.
pub trait JtiStore {
    /// Records `jti` as used; `Ok(false)` if it was used before.
    fn claim(&mut self, jti: &str, exp: i64) -> Result<bool, String>;
}

/// An in-memory [`JtiStore`], for tests and single-process tools.
#[derive(Debug, Default)]
pub struct MemoryJtiStore(std::collections::HashSet<String>);

impl JtiStore for MemoryJtiStore {
    fn claim(&mut self, jti: &str, _exp: i64) -> Result<bool, String> {
        Ok(self.0.insert(jti.to_owned()))
    }
}

/// What the verifier expects of a pass.
pub struct Expected<'a> {
    /// The connector about to execute.
    pub audience: &'a str,
    /// The agent the action is run for (`sub`), when the verifier knows it. The action hash
    /// does not cover the agent, so a verifier that knows it should check it.
    pub subject: Option<&'a str>,
    /// The hash recomputed from the payload about to be sent.
    pub action_hash: ActionHash,
    /// Seconds since the Unix epoch.
    pub now: i64,
}

/// Looks up a trusted public key by key id.
pub trait KeyRing {
    fn key(&self, kid: &str) -> Option<VerifyingKey>;
}

impl KeyRing for [VerifyingKey] {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        self.iter().find(|k| key_id(k) == kid).copied()
    }
}

/// A pass that passed every check. Only [`verify`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPass {
    claims: PassClaims,
}

impl VerifiedPass {
    pub fn claims(&self) -> &PassClaims {
        &self.claims
    }
}

/// The parts of a pass, decoded but NOT verified: for `axtary pass inspect` only.
#[derive(Debug, Clone, Serialize)]
pub struct Inspected {
    pub header: serde_json::Value,
    pub claims: serde_json::Value,
}

/// Decodes a pass without verifying anything.
pub fn inspect(token: &str) -> Result<Inspected, PassError> {
    let (header, claims, _, _) = split(token)?;
    let parse = |bytes: &[u8]| {
        json::parse_strict(bytes, Limits::default())
            .map_err(|e| PassError::Malformed(e.to_string()))
    };
    Ok(Inspected {
        header: parse(&header)?,
        claims: parse(&claims)?,
    })
}

type Parts = (Vec<u8>, Vec<u8>, Vec<u8>, usize);

/// Splits a compact JWS into decoded header, payload and signature, and the length of the
/// signing input.
fn split(token: &str) -> Result<Parts, PassError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(PassError::Malformed(format!(
            "longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PassError::Malformed(
            "expected three base64url parts separated by `.`".into(),
        ));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| PassError::Malformed(format!("{what} is not base64url: {e}")))
    };
    Ok((
        decode(h, "header")?,
        decode(p, "payload")?,
        decode(s, "signature")?,
        h.len() + 1 + p.len(),
    ))
}

/// Verifies `token` completely and consumes its `jti`.
///
/// Checks, in order: shape, header (`alg` pinned to EdDSA, `typ`, known `kid`), signature
/// (strict Ed25519), claims (strict JSON, known fields, version), audience, action hash, time
/// (`iat`/`exp` with [`LEEWAY_SECS`], lifetime at most [`MAX_LIFETIME_SECS`]), and finally
/// single use. The `jti` is consumed only when everything else passed.
pub fn verify(
    token: &str,
    keys: &(impl KeyRing + ?Sized),
    expected: &Expected<'_>,
    store: &mut impl JtiStore,
) -> Result<VerifiedPass, PassError> {
    let (header_bytes, claim_bytes, signature, signed_len) = split(token)?;
    let header_value = json::parse_strict(&header_bytes, Limits::default())
        .map_err(|e| PassError::Header(e.to_string()))?;
    let header: Header =
        serde_json::from_value(header_value).map_err(|e| PassError::Header(e.to_string()))?;
    if header.alg != "EdDSA" {
        return Err(PassError::Header(format!(
            "`alg` must be `EdDSA`, got `{}`",
            header.alg
        )));
    }
    if header.typ != PASS_TYP {
        return Err(PassError::Header(format!(
            "`typ` must be `{PASS_TYP}`, got `{}`",
            header.typ
        )));
    }
    let key = keys
        .key(&header.kid)
        .ok_or_else(|| PassError::UnknownKey(header.kid.clone()))?;
    let signature = Signature::from_slice(&signature).map_err(|_| PassError::Signature)?;
    let signed = token
        .as_bytes()
        .get(..signed_len)
        .ok_or(PassError::Signature)?;
    key.verify_strict(signed, &signature)
        .map_err(|_| PassError::Signature)?;

    let claims_value = json::parse_strict(&claim_bytes, Limits::default())
        .map_err(|e| PassError::Malformed(format!("claims: {e}")))?;
    let claims: PassClaims = serde_json::from_value(claims_value)
        .map_err(|e| PassError::Malformed(format!("claims: {e}")))?;
    if claims.v != PASS_VERSION {
        return Err(PassError::Malformed(format!(
            "unsupported claims version {}",
            claims.v
        )));
    }
    if claims.iss != header.kid {
        return Err(PassError::Header("`kid` and `iss` differ".into()));
    }
    if !is_jti(&claims.jti) {
        return Err(PassError::Malformed(
            "`jti` must be 32 lower-case hex digits".into(),
        ));
    }
    if claims.aud != expected.audience {
        return Err(PassError::Audience {
            expected: expected.audience.to_owned(),
            got: claims.aud,
        });
    }
    if let Some(subject) = expected.subject
        && claims.sub != subject
    {
        return Err(PassError::Subject {
            expected: subject.to_owned(),
            got: claims.sub,
        });
    }
    if claims.ah != expected.action_hash {
        return Err(PassError::ActionHash {
            authorized: claims.ah,
            actual: expected.action_hash,
        });
    }
    if claims.exp.saturating_sub(claims.iat) > MAX_LIFETIME_SECS || claims.exp <= claims.iat {
        return Err(PassError::Lifetime);
    }
    if expected.now > claims.exp.saturating_add(LEEWAY_SECS) {
        return Err(PassError::Expired {
            exp: claims.exp,
            now: expected.now,
        });
    }
    if claims.iat > expected.now.saturating_add(LEEWAY_SECS) {
        return Err(PassError::NotYetValid {
            iat: claims.iat,
            now: expected.now,
        });
    }
    match store.claim(&claims.jti, claims.exp) {
        Ok(true) => Ok(VerifiedPass { claims }),
        Ok(false) => Err(PassError::Replayed(claims.jti)),
        Err(e) => Err(PassError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn key() -> NodeKey {
        NodeKey::from_seed(&[7; 32])
    }

    fn claims(key: &NodeKey) -> PassClaims {
        PassClaims {
            v: 1,
            jti: "0123456789abcdef0123456789abcdef".into(),
            iss: key.key_id().into(),
            sub: "claude-code".into(),
            aud: "slack".into(),
            op: "chat.post".into(),
            res: "slack:#eng-bots".into(),
            ah: ActionHash::of_bytes(b"action"),
            dec: 42,
            apr: vec![],
            pol: ActionHash::of_bytes(b"policy"),
            iat: NOW,
            exp: NOW + 60,
        }
    }

    fn expected() -> Expected<'static> {
        Expected {
            audience: "slack",
            subject: None,
            action_hash: ActionHash::of_bytes(b"action"),
            now: NOW + 1,
        }
    }

    fn check(
        token: &str,
        expected: &Expected<'_>,
        store: &mut MemoryJtiStore,
    ) -> Result<VerifiedPass, PassError> {
        verify(token, [key().verifying_key()].as_slice(), expected, store)
    }

    #[test]
    fn mint_and_verify_round_trip() {
        let k = key();
        let token = mint(&claims(&k), &k).unwrap();
        assert_eq!(token.split('.').count(), 3);
        let inspected = inspect(&token).unwrap();
        assert_eq!(inspected.header["alg"], "EdDSA");
        assert_eq!(inspected.header["typ"], PASS_TYP);
        let pass = check(&token, &expected(), &mut MemoryJtiStore::default()).unwrap();
        assert_eq!(pass.claims().dec, 42);
    }

    #[test]
    fn a_pass_is_single_use() {
        let k = key();
        let token = mint(&claims(&k), &k).unwrap();
        let mut store = MemoryJtiStore::default();
        check(&token, &expected(), &mut store).unwrap();
        assert!(matches!(
            check(&token, &expected(), &mut store),
            Err(PassError::Replayed(_))
        ));
    }

    #[test]
    fn a_failed_check_does_not_consume_the_pass() {
        let k = key();
        let token = mint(&claims(&k), &k).unwrap();
        let mut store = MemoryJtiStore::default();
        let wrong = Expected {
            audience: "github",
            ..expected()
        };
        assert!(matches!(
            check(&token, &wrong, &mut store),
            Err(PassError::Audience { .. })
        ));
        let other_agent = Expected {
            subject: Some("someone-else"),
            ..expected()
        };
        assert!(matches!(
            check(&token, &other_agent, &mut store),
            Err(PassError::Subject { .. })
        ));
        let sub = claims(&k).sub;
        let same_agent = Expected {
            subject: Some(&sub),
            ..expected()
        };
        check(&token, &same_agent, &mut store).unwrap();
    }

    #[test]
    fn refuses_another_payload_connector_or_time() {
        let k = key();
        let token = mint(&claims(&k), &k).unwrap();
        let cases = [
            (
                Expected {
                    action_hash: ActionHash::of_bytes(b"changed"),
                    ..expected()
                },
                "authorizes action",
            ),
            (
                Expected {
                    audience: "github",
                    subject: None,
                    ..expected()
                },
                "not `github`",
            ),
            (
                Expected {
                    now: NOW + 60 + LEEWAY_SECS + 1,
                    ..expected()
                },
                "expired",
            ),
            (
                Expected {
                    now: NOW - LEEWAY_SECS - 1,
                    ..expected()
                },
                "not valid yet",
            ),
        ];
        for (exp, needle) in cases {
            let e = check(&token, &exp, &mut MemoryJtiStore::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        }
        // Within the leeway both ways.
        check(
            &token,
            &Expected {
                now: NOW + 60 + LEEWAY_SECS,
                ..expected()
            },
            &mut MemoryJtiStore::default(),
        )
        .unwrap();
    }

    #[test]
    fn refuses_tampering() {
        let k = key();
        let token = mint(&claims(&k), &k).unwrap();
        let (h, rest) = token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let mut forged_claims = claims(&k);
        forged_claims.aud = "github".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).unwrap());
        let mut flipped_sig = URL_SAFE_NO_PAD.decode(s).unwrap();
        flipped_sig[0] ^= 1;
        let none_header =
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"x","typ":"axtary-pass+jwt"}"#);
        let hs_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"HS256","kid":"{}","typ":"axtary-pass+jwt"}}"#,
            k.key_id()
        ));
        let jwt_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"EdDSA","kid":"{}","typ":"JWT"}}"#,
            k.key_id()
        ));
        let cases = [
            (format!("{h}.{forged_payload}.{s}"), "signature"),
            (
                format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&flipped_sig)),
                "signature",
            ),
            (format!("{none_header}.{p}."), "`alg` must be `EdDSA`"),
            (format!("{hs_header}.{p}.{s}"), "`alg` must be `EdDSA`"),
            (format!("{jwt_header}.{p}.{s}"), "`typ`"),
            (format!("{h}.{p}"), "three"),
            (format!("{h}.{p}.{s}.x"), "three"),
            (format!("{h}.{p}.{s}="), "base64url"),
            ("x".repeat(10_000), "longer than"),
        ];
        for (token, needle) in cases {
            let e = check(&token, &expected(), &mut MemoryJtiStore::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn refuses_unknown_keys_and_bad_claims() {
        let k = key();
        let other = NodeKey::from_seed(&[9; 32]);
        let token = mint(
            &{
                let mut c = claims(&other);
                c.iss = other.key_id().into();
                c
            },
            &other,
        )
        .unwrap();
        assert!(matches!(
            check(&token, &expected(), &mut MemoryJtiStore::default()),
            Err(PassError::UnknownKey(_))
        ));

        let mut long = claims(&k);
        long.exp = long.iat + MAX_LIFETIME_SECS + 1;
        assert_eq!(mint(&long, &k), Err(MintError::Lifetime));
        let mut bad_jti = claims(&k);
        bad_jti.jti = "short".into();
        assert_eq!(mint(&bad_jti, &k), Err(MintError::Jti));
        let mut wrong_iss = claims(&k);
        wrong_iss.iss = "someone".into();
        assert_eq!(mint(&wrong_iss, &k), Err(MintError::Issuer));
    }

    #[test]
    fn store_failure_denies() {
        struct Broken;
        impl JtiStore for Broken {
            fn claim(&mut self, _: &str, _: i64) -> Result<bool, String> {
                Err("disk full".into())
            }
        }
        let k = key();
        let token = mint(&claims(&k), &k).unwrap();
        let e = verify(
            &token,
            [k.verifying_key()].as_slice(),
            &expected(),
            &mut Broken,
        )
        .unwrap_err();
        assert!(matches!(e, PassError::Store(_)));
    }

    #[test]
    fn key_material_is_not_printed() {
        let k = key();
        let printed = format!("{k:?}");
        assert!(printed.contains(k.key_id()));
        assert!(!printed.contains("0707"));
    }
}
