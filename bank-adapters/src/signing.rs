//! HMAC signing helpers: bank callback signatures and Standard Webhooks signatures.
//!
//! Every comparison of a received signature is constant time, so an attacker cannot learn a
//! valid signature byte by byte from response timings.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a Standard Webhooks secret ("whsec_" followed by standard base64).
const WHSEC_PREFIX: &str = "whsec_";

/// The version tag of the only Standard Webhooks signature scheme we produce and accept.
const SIGNATURE_VERSION: &str = "v1";

/// Shortest secret we accept. Standard Webhooks recommends 24 to 64 bytes; below 16 bytes a
/// secret is too easy to guess.
const MIN_SECRET_BYTES: usize = 16;

/// Longest secret we accept; longer keys add nothing to HMAC-SHA256 (its block is 64 bytes).
const MAX_SECRET_BYTES: usize = 64;

/// Bytes of randomness in a generated secret (Standard Webhooks: 24 to 64).
const GENERATED_SECRET_BYTES: usize = 32;

/// A header with more signatures than this is not from a sane sender; we stop looking after
/// this many so a huge header cannot make us compute without bound.
const MAX_SIGNATURES_PER_HEADER: usize = 16;

/// Why a Standard Webhooks secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The secret does not start with `whsec_`.
    #[error("a webhook secret must start with \"whsec_\"")]
    MissingPrefix,
    /// The part after `whsec_` is not standard base64.
    #[error("the webhook secret is not valid base64 after \"whsec_\"")]
    InvalidBase64,
    /// The decoded secret is too short or too long.
    #[error("the webhook secret has {len} bytes; expected 16 to 64")]
    InvalidLength {
        /// The decoded length in bytes.
        len: usize,
    },
}

/// Builds an HMAC-SHA256 instance keyed with `secret`.
#[expect(
    clippy::expect_used,
    reason = "HMAC is defined for keys of any length, so new_from_slice cannot fail"
)]
fn keyed_mac(secret: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// Computes HMAC-SHA256 of `body` under `secret`, as lowercase hex.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed_mac(secret);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a hex HMAC-SHA256 signature of `body` under `secret` in constant time.
///
/// Upper- and lowercase hex are both accepted. Invalid hex or a wrong length is simply a
/// mismatch.
#[must_use = "a signature check whose result is ignored protects nothing"]
pub fn verify_hmac_sha256_hex(secret: &[u8], body: &[u8], signature_hex: &str) -> bool {
    let Ok(signature) = hex::decode(signature_hex) else {
        return false;
    };
    let mut mac = keyed_mac(secret);
    mac.update(body);
    // `verify_slice` compares in constant time and refuses a tag of the wrong length.
    mac.verify_slice(&signature).is_ok()
}

/// A Standard Webhooks signing secret (<https://www.standardwebhooks.com>).
///
/// Its `Debug` output is redacted; use [`WebhookSecret::as_whsec`] only to show the secret to
/// its owner once.
#[derive(Clone)]
pub struct WebhookSecret {
    bytes: Vec<u8>,
}

impl WebhookSecret {
    /// Reads a secret written as `whsec_<standard base64>`.
    ///
    /// # Errors
    ///
    /// [`SigningError::MissingPrefix`] without the `whsec_` prefix,
    /// [`SigningError::InvalidBase64`] when the rest is not standard base64, and
    /// [`SigningError::InvalidLength`] when it decodes to fewer than 16 or more than 64 bytes.
    pub fn parse(s: &str) -> Result<Self, SigningError> {
        let encoded = s
            .trim()
            .strip_prefix(WHSEC_PREFIX)
            .ok_or(SigningError::MissingPrefix)?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| SigningError::InvalidBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(SigningError::InvalidLength { len: bytes.len() });
        }
        Ok(Self { bytes })
    }

    /// Generates a new secret of 32 random bytes from the thread's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = vec![0_u8; GENERATED_SECRET_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Writes the secret as `whsec_<standard base64>`, the form shown to its owner.
    pub fn as_whsec(&self) -> String {
        format!("{WHSEC_PREFIX}{}", BASE64.encode(&self.bytes))
    }

    fn signed_content_mac(&self, msg_id: &str, timestamp_s: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = keyed_mac(&self.bytes);
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp_s.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Computes the `webhook-signature` header value for one message: `v1,<base64 signature>`.
///
/// The signed content is `"{msg_id}.{timestamp_s}.{body}"`, keyed with the secret's decoded
/// bytes, as the Standard Webhooks specification requires.
pub fn standard_webhooks_signature(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> String {
    let tag = secret
        .signed_content_mac(msg_id, timestamp_s, body)
        .finalize()
        .into_bytes();
    format!("{SIGNATURE_VERSION},{}", BASE64.encode(tag))
}

/// Checks a `webhook-signature` header against any of `secrets`, in constant time.
///
/// The header may hold several space-separated signatures (`v1,<base64>`); one valid `v1`
/// signature under one of the secrets is enough, which lets a receiver rotate secrets.
/// Signatures of other versions are ignored. The caller checks that `timestamp_s` is recent
/// (Standard Webhooks suggests a tolerance of five minutes) to refuse replays.
#[must_use = "a signature check whose result is ignored protects nothing"]
pub fn verify_standard_webhooks(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp_s: i64,
    body: &[u8],
    header_value: &str,
) -> bool {
    let expected: Vec<_> = secrets
        .iter()
        .map(|secret| {
            secret
                .signed_content_mac(msg_id, timestamp_s, body)
                .finalize()
                .into_bytes()
        })
        .collect();
    header_value
        .split_ascii_whitespace()
        .take(MAX_SIGNATURES_PER_HEADER)
        .filter_map(|candidate| {
            let (version, encoded) = candidate.split_once(',')?;
            (version == SIGNATURE_VERSION)
                .then(|| BASE64.decode(encoded).ok())
                .flatten()
        })
        .any(|received| {
            expected
                .iter()
                .any(|tag| bool::from(tag.as_slice().ct_eq(&received)))
        })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;
    use proptest::prelude::*;

    // Computed independently with Python:
    // hmac.new(b"sandbox-dev-secret-change-me", BODY, hashlib.sha256).hexdigest()
    const SANDBOX_BODY: &[u8] = br#"{"transaction_id":"sbx_1","provider_reference":"att_1","amount":"600000","currency":"KHR","paid_at":"2025-01-02T03:04:05Z"}"#;
    const SANDBOX_SIGNATURE: &str =
        "46e56ebd600b784c35392af97e63127f7fefad343f5e1671c197cb01293aa5b3";

    #[test]
    fn hmac_hex_matches_known_answers() {
        assert_eq!(
            hmac_sha256_hex(b"sandbox-dev-secret-change-me", SANDBOX_BODY),
            SANDBOX_SIGNATURE
        );
        // The classic example (Wikipedia, HMAC article).
        assert_eq!(
            hmac_sha256_hex(b"key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn hmac_hex_verifies_and_refuses_tampering() {
        let secret = b"sandbox-dev-secret-change-me";
        assert!(verify_hmac_sha256_hex(
            secret,
            SANDBOX_BODY,
            SANDBOX_SIGNATURE
        ));
        assert!(verify_hmac_sha256_hex(
            secret,
            SANDBOX_BODY,
            &SANDBOX_SIGNATURE.to_uppercase()
        ));
        assert!(!verify_hmac_sha256_hex(
            b"another-secret",
            SANDBOX_BODY,
            SANDBOX_SIGNATURE
        ));
        let mut tampered = SANDBOX_BODY.to_vec();
        tampered.push(b' ');
        assert!(!verify_hmac_sha256_hex(
            secret,
            &tampered,
            SANDBOX_SIGNATURE
        ));
    }

    #[test]
    fn hmac_hex_refuses_malformed_signatures() {
        let secret = b"sandbox-dev-secret-change-me";
        assert!(!verify_hmac_sha256_hex(secret, SANDBOX_BODY, ""));
        assert!(!verify_hmac_sha256_hex(secret, SANDBOX_BODY, "not hex"));
        // A valid prefix of the right signature is still a mismatch.
        assert!(!verify_hmac_sha256_hex(
            secret,
            SANDBOX_BODY,
            &SANDBOX_SIGNATURE[..62]
        ));
        assert!(!verify_hmac_sha256_hex(
            secret,
            SANDBOX_BODY,
            &SANDBOX_SIGNATURE[..63]
        ));
        let longer = format!("{SANDBOX_SIGNATURE}00");
        assert!(!verify_hmac_sha256_hex(secret, SANDBOX_BODY, &longer));
    }

    #[test]
    fn standard_webhooks_matches_the_reference_vector() {
        // The vector used by the Standard Webhooks / Svix reference libraries; recomputed with
        // Python's hmac module before pasting.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = standard_webhooks_signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            body,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn standard_webhooks_matches_a_python_vector_with_our_event_shape() {
        let secret =
            WebhookSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let body = br#"{"type":"payment.paid","timestamp":"2025-01-02T03:04:05Z","data":{"case_reference":"0320018100"}}"#;
        let msg_id = "msg_2Lh9KRb0pzN4LePd3XiA4xPlSmp";
        let signature = standard_webhooks_signature(&secret, msg_id, 1_700_000_000, body);
        assert_eq!(signature, "v1,IRXkPQET4EA7LYCbdeaZFk+LS7GS5WXWZ2N9p14s2u4=");
        assert!(verify_standard_webhooks(
            &[secret],
            msg_id,
            1_700_000_000,
            body,
            &signature
        ));
    }

    #[test]
    fn standard_webhooks_refuses_tampering() {
        let secret = WebhookSecret::generate();
        let body = b"{\"type\":\"payment.paid\"}";
        let header = standard_webhooks_signature(&secret, "msg_1", 1_700_000_000, body);
        let secrets = [secret];
        assert!(verify_standard_webhooks(
            &secrets,
            "msg_1",
            1_700_000_000,
            body,
            &header
        ));
        assert!(!verify_standard_webhooks(
            &secrets,
            "msg_2",
            1_700_000_000,
            body,
            &header
        ));
        assert!(!verify_standard_webhooks(
            &secrets,
            "msg_1",
            1_700_000_001,
            body,
            &header
        ));
        assert!(!verify_standard_webhooks(
            &secrets,
            "msg_1",
            1_700_000_000,
            b"{}",
            &header
        ));
        let other = [WebhookSecret::generate()];
        assert!(!verify_standard_webhooks(
            &other,
            "msg_1",
            1_700_000_000,
            body,
            &header
        ));
        assert!(!verify_standard_webhooks(
            &[],
            "msg_1",
            1_700_000_000,
            body,
            &header
        ));
        let v2 = header.replacen("v1,", "v2,", 1);
        assert!(!verify_standard_webhooks(
            &secrets,
            "msg_1",
            1_700_000_000,
            body,
            &v2
        ));
        assert!(!verify_standard_webhooks(
            &secrets,
            "msg_1",
            1_700_000_000,
            body,
            ""
        ));
        assert!(!verify_standard_webhooks(
            &secrets,
            "msg_1",
            1_700_000_000,
            body,
            "v1,!!!"
        ));
    }

    #[test]
    fn standard_webhooks_accepts_any_listed_signature_and_any_listed_secret() {
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let body = b"{}";
        let with_old = standard_webhooks_signature(&old, "msg_1", 42, body);
        let header = format!("v1,AAAA v2,whatever {with_old}");
        assert!(verify_standard_webhooks(
            &[new.clone(), old.clone()],
            "msg_1",
            42,
            body,
            &header
        ));
        assert!(!verify_standard_webhooks(
            &[new],
            "msg_1",
            42,
            body,
            &header
        ));
    }

    #[test]
    fn webhook_secret_round_trips_and_refuses_bad_input() {
        let secret = WebhookSecret::generate();
        let text = secret.as_whsec();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text).unwrap().bytes, secret.bytes);
        assert_eq!(secret.bytes.len(), 32);
        assert_ne!(WebhookSecret::generate().bytes, secret.bytes);
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SigningError::MissingPrefix
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").unwrap_err(),
            SigningError::InvalidBase64
        );
        assert_eq!(
            WebhookSecret::parse("whsec_AAAA").unwrap_err(),
            SigningError::InvalidLength { len: 3 }
        );
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<redacted>)");
    }

    proptest! {
        #[test]
        fn any_single_byte_change_breaks_the_hex_signature(
            secret in proptest::collection::vec(any::<u8>(), 0..64),
            body in proptest::collection::vec(any::<u8>(), 1..512),
            index in any::<proptest::sample::Index>(),
            flip in 1_u8..=255,
        ) {
            let signature = hmac_sha256_hex(&secret, &body);
            prop_assert!(verify_hmac_sha256_hex(&secret, &body, &signature));
            let mut tampered = body.clone();
            let position = index.index(tampered.len());
            tampered[position] ^= flip;
            prop_assert!(!verify_hmac_sha256_hex(&secret, &tampered, &signature));
        }

        #[test]
        fn any_single_byte_change_breaks_the_webhook_signature(
            body in proptest::collection::vec(any::<u8>(), 1..512),
            index in any::<proptest::sample::Index>(),
            flip in 1_u8..=255,
        ) {
            let secret = WebhookSecret::generate();
            let header = standard_webhooks_signature(&secret, "msg_1", 1_700_000_000, &body);
            let secrets = [secret];
            prop_assert!(verify_standard_webhooks(&secrets, "msg_1", 1_700_000_000, &body, &header));
            let mut tampered = body.clone();
            let position = index.index(tampered.len());
            tampered[position] ^= flip;
            prop_assert!(!verify_standard_webhooks(&secrets, "msg_1", 1_700_000_000, &tampered, &header));
        }
    }
}
