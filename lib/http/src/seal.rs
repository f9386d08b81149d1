//! Sealing bytes at rest: AES-256-GCM with a key derived from the master secret.
//!
//! The idempotency middleware keeps a finished response for 24 hours so that a retry gets it
//! again. Some responses carry credentials shown only once (a new API key, session tokens);
//! stored in clear, they would sit readable in the table. So every stored response body is
//! sealed: a random 96-bit nonce, then the ciphertext and tag, bound to the record it belongs
//! to (the caller's scope and key as associated data), so a sealed body moved to another
//! record does not open either.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const NONCE_BYTES: usize = 12;

/// Seals and opens bytes with one key.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer with a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag` of `plaintext`, bound to `context`.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext of `sealed`, or `None` if it was not sealed by this key for `context`
    /// or was altered.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&[byte; 32])
    }

    #[test]
    fn a_sealed_body_opens_with_its_key_and_context_only() {
        let s = sealer(7);
        let sealed = s.seal(b"user:1|key-a", b"{\"token\":\"kpk_secret\"}");
        assert!(!sealed.windows(10).any(|w| w == b"kpk_secret"));
        assert_eq!(
            s.open(b"user:1|key-a", &sealed).as_deref(),
            Some(&b"{\"token\":\"kpk_secret\"}"[..])
        );
        assert_eq!(s.open(b"user:2|key-a", &sealed), None);
        assert_eq!(sealer(8).open(b"user:1|key-a", &sealed), None);
    }

    #[test]
    fn a_tampered_or_truncated_body_does_not_open() {
        let s = sealer(1);
        let mut sealed = s.seal(b"ctx", b"hello");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(s.open(b"ctx", &sealed), None);
        assert_eq!(s.open(b"ctx", &sealed[..5]), None);
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let s = sealer(2);
        assert_ne!(s.seal(b"c", b"same"), s.seal(b"c", b"same"));
    }
}
