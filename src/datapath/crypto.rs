//! All symmetric cryptography of the gateway. The only importer of `ring::aead` and
//! `ring::hkdf` (DESIGN.md §2.2), so every key and nonce rule can be audited in one file.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use ring::hmac;

use super::format::{StreamParams, full_header, segment_nonce};

/// A cryptographic operation failed. Deliberately carries no detail that could help an attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The OS random generator failed.
    #[error("random generator failed")]
    Random,
    /// A tag, commitment or MAC did not verify.
    #[error("authentication failed")]
    Authentication,
    /// Sealing failed (only possible for absurd lengths).
    #[error("sealing failed")]
    Seal,
}

struct Len32;
impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// 32 bytes of HKDF output, wiped when dropped (the raw per-stream and manifest keys; ring's
/// own key schedules built from them are not in our hands).
fn expand32(prk: &ring::hkdf::Prk, info: &[&[u8]]) -> Result<zeroize::Zeroizing<[u8; 32]>, CryptoError> {
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    prk.expand(info, Len32).and_then(|okm| okm.fill(out.as_mut())).map_err(|_| CryptoError::Seal)?;
    Ok(out)
}

/// The two keys of one stream (§4.2 step 3).
pub struct StreamKeys {
    enc: LessSafeKey,
    commit: hmac::Key,
}

impl StreamKeys {
    /// HKDF-SHA256 from the DEK under the stream's salt and context.
    pub fn derive(dek: &[u8; 32], params: &StreamParams) -> Result<Self, CryptoError> {
        let ctx = params.kdf_context();
        let prk = Salt::new(HKDF_SHA256, &params.salt).extract(dek);
        let enc = expand32(&prk, &[b"souverain/v1/enc", &ctx])?;
        let commit = expand32(&prk, &[b"souverain/v1/commit", &ctx])?;
        let enc = UnboundKey::new(&AES_256_GCM, enc.as_ref()).map_err(|_| CryptoError::Seal)?;
        Ok(Self { enc: LessSafeKey::new(enc), commit: hmac::Key::new(hmac::HMAC_SHA256, commit.as_ref()) })
    }

    /// The 32-byte commitment over the header prefix.
    pub fn commitment(&self, header_prefix: &[u8; 64]) -> [u8; 32] {
        let tag = hmac::sign(&self.commit, header_prefix);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Checks a stored commitment in constant time.
    pub fn verify_commitment(&self, header_prefix: &[u8; 64], commit: &[u8; 32]) -> Result<(), CryptoError> {
        hmac::verify(&self.commit, header_prefix, commit).map_err(|_| CryptoError::Authentication)
    }

    /// Seals `buf[start..]` in place and appends the tag.
    pub fn seal_segment(
        &self,
        k: u64,
        is_final: bool,
        aad: &[u8; 32],
        buf: &mut bytes::BytesMut,
        start: usize,
    ) -> Result<(), CryptoError> {
        let nonce = Nonce::assume_unique_for_key(segment_nonce(k, is_final));
        let tag = self
            .enc
            .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut buf[start..])
            .map_err(|_| CryptoError::Seal)?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens one ciphertext segment (ciphertext ‖ tag) in place; returns the plaintext part.
    pub fn open_segment<'a>(
        &self,
        k: u64,
        is_final: bool,
        aad: &[u8; 32],
        segment: &'a mut [u8],
    ) -> Result<&'a mut [u8], CryptoError> {
        let nonce = Nonce::assume_unique_for_key(segment_nonce(k, is_final));
        self.enc.open_in_place(nonce, Aad::from(aad), segment).map_err(|_| CryptoError::Authentication)
    }
}

/// The per-segment AAD: SHA-256 of the full 96-byte header.
pub fn segment_aad(header_prefix: &[u8; 64], commit: &[u8; 32]) -> [u8; 32] {
    sha256(&full_header(header_prefix, commit))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The manifest MAC of §4.4 under `K_man` derived from the DEK.
pub fn manifest_mac(
    dek: &[u8; 32],
    bucket: &[u8; 16],
    version: &[u8; 16],
    manifest: &[u8],
) -> Result<[u8; 32], CryptoError> {
    let key = manifest_key(dek, bucket, version)?;
    let tag = hmac::sign(&key, manifest);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Checks a manifest MAC in constant time.
pub fn verify_manifest_mac(
    dek: &[u8; 32],
    bucket: &[u8; 16],
    version: &[u8; 16],
    manifest: &[u8],
    mac: &[u8; 32],
) -> Result<(), CryptoError> {
    let key = manifest_key(dek, bucket, version)?;
    hmac::verify(&key, manifest, mac).map_err(|_| CryptoError::Authentication)
}

fn manifest_key(dek: &[u8; 32], bucket: &[u8; 16], version: &[u8; 16]) -> Result<hmac::Key, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, &[0u8; 32]).extract(dek);
    let bytes = expand32(&prk, &[b"souverain/v1/manifest", bucket, version])?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref()))
}

/// The key an SSE-C customer key wraps data keys with (docs/format-v2.md, "SSE-C"):
/// `HKDF-Expand(HKDF-Extract(SHA-256, 0³², customer key), "souverain/v2/sse-c", 32)`, so the
/// customer's key itself seals nothing and a key used elsewhere never meets its own ciphertext.
pub fn customer_wrapping_key(customer_key: &[u8; 32]) -> Result<zeroize::Zeroizing<[u8; 32]>, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, &[0u8; 32]).extract(customer_key);
    expand32(&prk, &[b"souverain/v2/sse-c"])
}

/// Wraps a DEK under a local KEK: `nonce(12) ‖ AES-256-GCM(KEK, nonce, aad, DEK)` (60 bytes).
pub fn wrap_key(kek: &[u8; 32], aad: &[u8], dek: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).map_err(|_| CryptoError::Seal)?);
    let nonce_bytes: [u8; 12] = crate::model::random_array().map_err(|_| CryptoError::Random)?;
    let mut out = Vec::with_capacity(60);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(dek);
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad), &mut out[12..])
        .map_err(|_| CryptoError::Seal)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Reverses [`wrap_key`]; fails unless the KEK and the AAD are the ones used to wrap.
pub fn unwrap_key(kek: &[u8; 32], aad: &[u8], wrapped: &[u8]) -> Result<zeroize::Zeroizing<[u8; 32]>, CryptoError> {
    if wrapped.len() != 60 {
        return Err(CryptoError::Authentication);
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).map_err(|_| CryptoError::Seal)?);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&wrapped[..12]);
    let mut buf = zeroize::Zeroizing::new(wrapped[12..].to_vec());
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Authentication)?;
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    if plain.len() != 32 {
        return Err(CryptoError::Authentication);
    }
    out.copy_from_slice(plain);
    Ok(out)
}

/// The key of one format v2 log segment (docs/format-v2.md): `HKDF-Expand(HKDF-Extract(SHA-256,
/// salt, LK), "souverain/v2/segment" ‖ segment_id, 32)`. Salt and segment id are fresh for every
/// segment, so the key seals exactly one message and a zero nonce is safe.
fn segment_key(log_key: &[u8; 32], salt: &[u8; 32], segment_id: &[u8; 16]) -> Result<LessSafeKey, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(log_key);
    let key = expand32(&prk, &[b"souverain/v2/segment", segment_id])?;
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_ref()).map_err(|_| CryptoError::Seal)?))
}

/// Seals a log segment's (padded) plaintext in place and appends the tag; `header` is the
/// authenticated, unencrypted segment header.
pub fn seal_log_segment(
    log_key: &[u8; 32],
    salt: &[u8; 32],
    segment_id: &[u8; 16],
    header: &[u8],
    plaintext: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let key = segment_key(log_key, salt, segment_id)?;
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key([0; 12]), Aad::from(header), plaintext)
        .map_err(|_| CryptoError::Seal)?;
    plaintext.extend_from_slice(tag.as_ref());
    Ok(())
}

/// Opens a log segment's body (ciphertext ‖ tag) in place; the plaintext is returned only if
/// the tag verifies under the key and the header.
pub fn open_log_segment<'a>(
    log_key: &[u8; 32],
    salt: &[u8; 32],
    segment_id: &[u8; 16],
    header: &[u8],
    body: &'a mut [u8],
) -> Result<&'a mut [u8], CryptoError> {
    let key = segment_key(log_key, salt, segment_id)?;
    key.open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::from(header), body)
        .map_err(|_| CryptoError::Authentication)
}
