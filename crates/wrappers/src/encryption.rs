//! Encrypts every value before it is stored: py-key-value's `FernetEncryptionWrapper`, plus an
//! option that binds each value to its collection and key.
//!
//! Each value is written to the wrapped store as
//!
//! ```text
//! {"__encrypted_data__": "<standard base64 of the Fernet token>", "__encryption_version__": 1}
//! ```
//!
//! where the Fernet token (itself URL-safe base64, so the data is base64 twice, as in
//! py-key-value) encrypts the compact JSON of the value (`json.dumps(value, separators=(",", ":"))`)
//! with AES-128-CBC and authenticates it with HMAC-SHA256, following the
//! [Fernet specification](https://github.com/fernet/spec/blob/master/Spec.md). Python's
//! `FernetEncryptionWrapper` reads what this wrapper writes and the reverse.
//!
//! # Keys
//!
//! A [`FernetKey`] is 32 bytes (signing key, then encryption key), written as 44 characters of
//! URL-safe base64, the form Python's `Fernet(key)` takes. Make one with
//! [`FernetKey::generate`], [`FernetKey::from_base64`], or [`FernetKey::derive`], which is
//! py-key-value's derivation from a `source_material` and a `salt`: PBKDF2-HMAC-SHA256, 1,200,000
//! iterations, 32 bytes, both strings UTF-8 encoded. That derivation is slow on purpose (tenths of
//! a second in an optimized build, several seconds in a debug build): do it once, at start-up,
//! and clone the key or the layer (clones share the key).
//!
//! Several keys ([`EncryptionLayer::with_keys`]) work as Python's `MultiFernet`: values are
//! encrypted with the first key and decrypted with whichever key fits, so a new key can be put
//! first while old values stay readable.
//!
//! Key material never appears in `Debug` output or in error messages, and is zeroed when the
//! last clone of a key is dropped.
//!
//! # Binding values to their collection and key
//!
//! An attacker who can write to the store (but has no key) cannot forge a value, but can copy
//! an encrypted value from one key to another (say, one user's record over another's), and the
//! copy decrypts fine. [`EncryptionLayer::bind_to_key`] closes that gap: each value is then
//! encrypted with a key derived (HMAC-SHA256) from the Fernet key, the collection and the key
//! it is written under, and marked with `"__encryption_binding__": "collection+key"`. A value
//! read under any other collection or key fails to decrypt with [`ErrorKind::Decryption`].
//! The names bound are those this wrapper sees: wrappers below it (a prefix, say) do not change
//! them.
//!
//! Binding is an extension of this library, off by default. **py-key-value cannot read bound
//! values** (its wrapper fails with `DecryptionError`). Any wrapper of this crate reads bound
//! values; a binding wrapper refuses unbound values unless
//! [`accept_unbound`](EncryptionLayer::accept_unbound) is set (for migrating existing data).
//!
//! # Errors
//!
//! | Stored value | Error |
//! |---|---|
//! | tampered data, a wrong key, a bound value under another collection or key | [`ErrorKind::Decryption`] |
//! | a marker without a version or data, a version that is not an integer, data that is not a string or not valid base64 | [`ErrorKind::CorruptedData`] |
//! | `__encryption_version__` above 1, an unknown binding scheme | [`ErrorKind::EncryptionVersion`] |
//! | an object without `__encrypted_data__` | none: returned as it is, as py-key-value does |
//!
//! With [`raise_on_decryption_error(false)`](EncryptionLayer::raise_on_decryption_error),
//! values that cannot be decrypted read as missing instead, as in py-key-value.
//!
//! # How it differs from py-key-value's wrapper
//!
//! - Error kinds are more precise: Python reports invalid outer base64 and newer versions as
//!   `DecryptionError` (its `EncryptionVersionError` is raised inside the decryption function
//!   and wrapped); here they are [`ErrorKind::CorruptedData`] and
//!   [`ErrorKind::EncryptionVersion`].
//! - The compact JSON has its keys sorted (Python keeps insertion order); both read alike.
//! - The Fernet timestamp comes from the wrapped store's clock. Like py-key-value, reads do
//!   not check token age (no Fernet TTL).
//! - The binding option above.
//!
//! The wrapper keeps batches as batches and forwards enumeration, destroy, cull and close. Its
//! [`StoreInfo`] is the wrapped store's with `max_value_size`, if any, lowered to the largest
//! value whose encrypted form fits in it.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::LayerExt;
//! use key_value_wrappers::encryption::{EncryptionLayer, FernetKey};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let key = FernetKey::generate()?;
//! let store = MemoryStore::new().layer(EncryptionLayer::new(key.clone()));
//! store.put("card", object!({"number": "4111 1111 1111 1111"})).await?;
//! assert_eq!(store.get("card").await?, Some(object!({"number": "4111 1111 1111 1111"})));
//!
//! // The wrapped store only holds ciphertext.
//! let raw = store.inner().get("card").await?.unwrap_or_default();
//! assert_eq!(raw["__encryption_version__"], 1);
//! assert!(!raw["__encrypted_data__"].as_str().unwrap_or_default().contains("4111"));
//!
//! // Another key cannot read it.
//! let other = store.inner().layer(EncryptionLayer::new(FernetKey::generate()?));
//! assert_eq!(other.get("card").await.unwrap_err().kind(), ErrorKind::Decryption);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{KeyInit, Mac};
use key_value_core::entry::ManagedEntry;
use key_value_core::json::{parse_object, write_python_json_compact_object};
use key_value_core::{Error, ErrorKind, KeyValue, Object, Result, StoreInfo};
use serde_json::Value;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::Layer;
use crate::transform::{EntryTransform, transformed_key_value};

/// The field holding the standard base64 of the Fernet token.
pub const ENCRYPTED_DATA_KEY: &str = "__encrypted_data__";
/// The field holding the format version ([`ENCRYPTION_VERSION`]).
pub const ENCRYPTION_VERSION_KEY: &str = "__encryption_version__";
/// The field marking a value bound to its collection and key (this library's extension).
pub const ENCRYPTION_BINDING_KEY: &str = "__encryption_binding__";
/// The binding scheme written in [`ENCRYPTION_BINDING_KEY`].
pub const BINDING_COLLECTION_AND_KEY: &str = "collection+key";
/// The format version written and the newest one read, as py-key-value's `ENCRYPTION_VERSION`.
pub const ENCRYPTION_VERSION: i64 = 1;
/// py-key-value's PBKDF2 iteration count (`KDF_ITERATIONS`).
pub const KDF_ITERATIONS: u32 = 1_200_000;

type HmacSha256 = hmac::Hmac<Sha256>;
type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Fernet's version byte.
const FERNET_VERSION: u8 = 0x80;
/// Version, timestamp and IV before the ciphertext.
const FERNET_HEADER: usize = 1 + 8 + 16;
const FERNET_MAC: usize = 32;

/// Python's `urlsafe_b64decode` wants padding; keys are also accepted without it.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A Fernet key: a 16-byte HMAC-SHA256 signing key followed by a 16-byte AES-128 key.
///
/// Its `Debug` output hides the key; it is zeroed on drop.
///
/// ```
/// use key_value_wrappers::encryption::FernetKey;
///
/// // The key of the Fernet specification's test vectors.
/// let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")?;
/// let token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
/// assert_eq!(key.decrypt(token)?, b"hello");
/// assert_eq!(format!("{key:?}"), "FernetKey(..)");
/// # Ok::<(), key_value_core::Error>(())
/// ```
#[derive(Clone)]
pub struct FernetKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FernetKey(..)")
    }
}

impl FernetKey {
    /// A new random key, from the operating system's generator (Python: `Fernet.generate_key()`).
    ///
    /// # Errors
    /// [`ErrorKind::Encryption`] if the system has no random numbers to give.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|e| {
            Error::new(ErrorKind::Encryption, "no random numbers for a new key")
                .with_source(e.to_string())
        })?;
        Ok(FernetKey { bytes })
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        FernetKey {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// The key from its URL-safe base64 form (44 characters, what `Fernet.generate_key()`
    /// returns and `Fernet(key)` takes; padding optional).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if the text is not URL-safe base64 of 32 bytes. The message
    /// does not include the text.
    pub fn from_base64(text: &str) -> Result<Self> {
        let decoded = Zeroizing::new(URL_SAFE_LENIENT.decode(text.trim()).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "a Fernet key must be 32 bytes in URL-safe base64",
            )
        })?);
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                "a Fernet key must be 32 bytes in URL-safe base64",
            )
        })?;
        Ok(FernetKey::from_bytes(bytes))
    }

    /// py-key-value's key derivation (`FernetEncryptionWrapper(source_material=..., salt=...)`):
    /// PBKDF2-HMAC-SHA256 of the UTF-8 `source_material` with the UTF-8 `salt`,
    /// [`KDF_ITERATIONS`] rounds, 32 bytes.
    ///
    /// Slow on purpose (tenths of a second in an optimized build, seconds in a debug build):
    /// call it once and keep the key.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if either string is empty or only white space (as py-key-value).
    pub fn derive(source_material: &str, salt: &str) -> Result<Self> {
        FernetKey::derive_with_iterations(source_material, salt, KDF_ITERATIONS)
    }

    /// [`derive`](Self::derive) with another iteration count. Not compatible with
    /// py-key-value unless `iterations` is [`KDF_ITERATIONS`].
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for blank strings or zero iterations.
    pub fn derive_with_iterations(
        source_material: &str,
        salt: &str,
        iterations: u32,
    ) -> Result<Self> {
        if source_material.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "the source material of an encryption key must not be blank",
            ));
        }
        if salt.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "the salt of an encryption key must not be blank",
            ));
        }
        if iterations == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "PBKDF2 needs at least one iteration",
            ));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(
            source_material.as_bytes(),
            salt.as_bytes(),
            iterations,
            bytes.as_mut_slice(),
        );
        Ok(FernetKey { bytes })
    }

    /// The key in URL-safe base64, for Python's `Fernet(key)`. Treat the result as a secret.
    pub fn to_base64(&self) -> String {
        URL_SAFE.encode(self.bytes.as_slice())
    }

    fn signing_key(&self) -> &[u8] {
        &self.bytes[..16]
    }

    fn encryption_key(&self) -> &[u8] {
        &self.bytes[16..]
    }

    /// Encrypts `plaintext` into a Fernet token (URL-safe base64, as Python's
    /// `Fernet.encrypt`), stamped with the current system time and a random IV.
    ///
    /// # Errors
    /// [`ErrorKind::Encryption`] if the system has no random numbers.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.encrypt_at(plaintext, now)
    }

    fn encrypt_at(&self, plaintext: &[u8], timestamp: u64) -> Result<String> {
        let mut iv = [0u8; 16];
        getrandom::fill(&mut iv).map_err(|e| {
            Error::new(
                ErrorKind::Encryption,
                "Failed to encrypt value: no random IV",
            )
            .with_source(e.to_string())
        })?;
        Ok(self.encrypt_with(plaintext, timestamp, iv))
    }

    /// The Fernet token of `plaintext` with a given timestamp and IV: deterministic, for
    /// checking against the specification's test vectors. Never reuse an IV.
    #[doc(hidden)]
    pub fn encrypt_with(&self, plaintext: &[u8], timestamp: u64, iv: [u8; 16]) -> String {
        let padded = (plaintext.len() / 16 + 1) * 16;
        let mut token = Vec::with_capacity(FERNET_HEADER + padded + FERNET_MAC);
        token.push(FERNET_VERSION);
        token.extend_from_slice(&timestamp.to_be_bytes());
        token.extend_from_slice(&iv);
        let start = token.len();
        token.extend_from_slice(plaintext);
        token.resize(start + padded, 0);
        let Ok(cipher) = Aes128CbcEnc::new_from_slices(self.encryption_key(), &iv) else {
            unreachable!("the AES key and IV are 16 bytes by construction")
        };
        let Ok(ciphertext) = cipher.encrypt_padded::<Pkcs7>(&mut token[start..], plaintext.len())
        else {
            unreachable!("the buffer holds the padded plaintext by construction")
        };
        debug_assert_eq!(ciphertext.len(), padded);
        let tag = self.mac(&token);
        token.extend_from_slice(&tag);
        URL_SAFE.encode(&token)
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(self.signing_key()) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Decrypts a Fernet token (as Python's `Fernet.decrypt(token)` without a TTL).
    ///
    /// # Errors
    /// [`ErrorKind::Decryption`] if the token is malformed, was tampered with, or was made
    /// with another key (one error for all, as the specification asks).
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>> {
        self.decrypt_bytes(token.as_bytes())
            .ok_or_else(|| Error::new(ErrorKind::Decryption, "invalid Fernet token or wrong key"))
    }

    fn decrypt_bytes(&self, token: &[u8]) -> Option<Vec<u8>> {
        let data = URL_SAFE_LENIENT.decode(token).ok()?;
        let body_len = data.len().checked_sub(FERNET_MAC)?;
        let ciphertext_len = body_len.checked_sub(FERNET_HEADER)?;
        if data[0] != FERNET_VERSION || ciphertext_len == 0 || ciphertext_len % 16 != 0 {
            return None;
        }
        let (body, tag) = data.split_at(body_len);
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(self.signing_key()) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(tag).ok()?;
        let iv = &body[9..FERNET_HEADER];
        let mut plaintext = body[FERNET_HEADER..].to_vec();
        let cipher = Aes128CbcDec::new_from_slices(self.encryption_key(), iv).ok()?;
        let len = cipher.decrypt_padded::<Pkcs7>(&mut plaintext).ok()?.len();
        plaintext.truncate(len);
        Some(plaintext)
    }

    /// The key a bound value is encrypted with: HMAC-SHA256 under this key of a
    /// length-prefixed encoding of the collection and key, so no two (collection, key) pairs
    /// share an input.
    fn bound_to(&self, collection: &str, key: &str) -> FernetKey {
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(self.bytes.as_slice()) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(b"key-value/encryption/bind/v1\0");
        for part in [collection, key] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        FernetKey::from_bytes(mac.finalize().into_bytes().into())
    }
}

/// The configuration of [`Encryption`]: keys, binding and error handling. Clones share the
/// keys.
#[derive(Clone)]
pub struct EncryptionLayer {
    keys: Arc<[FernetKey]>,
    bind: bool,
    accept_unbound: bool,
    raise_on_error: bool,
}

impl fmt::Debug for EncryptionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionLayer")
            .field("keys", &self.keys.len())
            .field("bind_to_key", &self.bind)
            .field("accept_unbound", &self.accept_unbound)
            .field("raise_on_decryption_error", &self.raise_on_error)
            .finish()
    }
}

impl EncryptionLayer {
    /// Encrypts and decrypts with one key (Python: `FernetEncryptionWrapper(fernet=Fernet(key))`).
    pub fn new(key: FernetKey) -> Self {
        EncryptionLayer {
            keys: Arc::from(vec![key]),
            bind: false,
            accept_unbound: false,
            raise_on_error: true,
        }
    }

    /// Several keys, as Python's `MultiFernet`: the first encrypts, any decrypts.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if `keys` is empty.
    pub fn with_keys(keys: impl IntoIterator<Item = FernetKey>) -> Result<Self> {
        let keys: Vec<FernetKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "encryption needs at least one key",
            ));
        }
        Ok(EncryptionLayer {
            keys: Arc::from(keys),
            bind: false,
            accept_unbound: false,
            raise_on_error: true,
        })
    }

    /// The key derived from `source_material` and `salt` as py-key-value derives it (see
    /// [`FernetKey::derive`]; slow on purpose).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if either string is blank.
    pub fn from_source_material(source_material: &str, salt: &str) -> Result<Self> {
        Ok(EncryptionLayer::new(FernetKey::derive(
            source_material,
            salt,
        )?))
    }

    /// With `true`, binds every value written to its collection and key (see the
    /// [module docs](self#binding-values-to-their-collection-and-key)); py-key-value cannot
    /// read such values. Off by default.
    pub fn bind_to_key(mut self, bind: bool) -> Self {
        self.bind = bind;
        self
    }

    /// With binding on, also reads values written without binding (to migrate a store).
    /// Off by default: a binding wrapper refuses unbound values with
    /// [`ErrorKind::Decryption`].
    pub fn accept_unbound(mut self, accept: bool) -> Self {
        self.accept_unbound = accept;
        self
    }

    /// With `false`, a value that cannot be decrypted reads as missing instead of being an
    /// error (py: `raise_on_decryption_error=False`). Default `true`.
    pub fn raise_on_decryption_error(mut self, raise: bool) -> Self {
        self.raise_on_error = raise;
        self
    }

    /// Whether values are bound to their collection and key.
    pub fn binds_to_key(&self) -> bool {
        self.bind
    }

    /// The stored form of `value` written under `collection`/`key`, with the Fernet
    /// timestamp `timestamp` (seconds since the epoch).
    ///
    /// ```
    /// use key_value_core::object;
    /// use key_value_wrappers::encryption::{EncryptionLayer, FernetKey};
    ///
    /// let layer = EncryptionLayer::new(FernetKey::generate()?);
    /// let stored = layer.encrypt(&object!({"secret": 42}), "c", "k", 1_700_000_000)?;
    /// assert_eq!(stored.len(), 2);
    /// assert_eq!(layer.decrypt(stored, "c", "k")?, object!({"secret": 42}));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Encryption`] if the system has no random numbers for the IV.
    pub fn encrypt(
        &self,
        value: &Object,
        collection: &str,
        key: &str,
        timestamp: u64,
    ) -> Result<Object> {
        let mut json = String::new();
        write_python_json_compact_object(&mut json, value);
        let json = Zeroizing::new(json);
        let primary = &self.keys[0];
        let token = if self.bind {
            primary
                .bound_to(collection, key)
                .encrypt_at(json.as_bytes(), timestamp)?
        } else {
            primary.encrypt_at(json.as_bytes(), timestamp)?
        };
        let mut out = Object::new();
        out.insert(
            ENCRYPTED_DATA_KEY.to_owned(),
            Value::String(STANDARD.encode(token)),
        );
        out.insert(
            ENCRYPTION_VERSION_KEY.to_owned(),
            Value::from(ENCRYPTION_VERSION),
        );
        if self.bind {
            out.insert(
                ENCRYPTION_BINDING_KEY.to_owned(),
                Value::from(BINDING_COLLECTION_AND_KEY),
            );
        }
        Ok(out)
    }

    /// The original value of a stored one read from `collection`/`key`: encrypted values are
    /// decrypted, objects without `__encrypted_data__` returned unchanged. Ignores
    /// [`raise_on_decryption_error`](Self::raise_on_decryption_error).
    ///
    /// # Errors
    /// See the [module docs](self#errors).
    pub fn decrypt(&self, stored: Object, collection: &str, key: &str) -> Result<Object> {
        if !stored.contains_key(ENCRYPTED_DATA_KEY) {
            return Ok(stored);
        }
        let version = match stored.get(ENCRYPTION_VERSION_KEY) {
            None => return Err(corrupted("missing encryption version key")),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n,
            Some(_) => {
                return Err(corrupted(
                    "expected the encryption version to be an integer",
                ));
            }
        };
        let Some(Value::String(data)) = stored.get(ENCRYPTED_DATA_KEY) else {
            return Err(corrupted("expected the encrypted data to be a string"));
        };
        if version.as_i64().is_none_or(|v| v > ENCRYPTION_VERSION) {
            return Err(Error::new(
                ErrorKind::EncryptionVersion,
                format!(
                    "Decryption failed: encryption versions newer than {ENCRYPTION_VERSION} are not supported (got {version})"
                ),
            ));
        }
        let bound = match stored.get(ENCRYPTION_BINDING_KEY) {
            None => false,
            Some(Value::String(s)) if s == BINDING_COLLECTION_AND_KEY => true,
            Some(Value::String(_)) => {
                return Err(Error::new(
                    ErrorKind::EncryptionVersion,
                    "unknown encryption binding scheme",
                ));
            }
            Some(_) => return Err(corrupted("expected the encryption binding to be a string")),
        };
        if self.bind && !bound && !self.accept_unbound {
            return Err(Error::new(
                ErrorKind::Decryption,
                "Failed to decrypt value: it is not bound to its collection and key",
            ));
        }
        let token = STANDARD
            .decode(data)
            .map_err(|e| corrupted("the encrypted data is not valid base64").with_source(e))?;
        let plaintext = self
            .keys
            .iter()
            .find_map(|k| {
                if bound {
                    k.bound_to(collection, key).decrypt_bytes(&token)
                } else {
                    k.decrypt_bytes(&token)
                }
            })
            .map(Zeroizing::new)
            .ok_or_else(decryption_failed)?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| decryption_failed())?;
        parse_object(text).map_err(|_| decryption_failed())
    }

    /// The largest value (characters of `sort_keys=True` JSON) whose stored form fits in
    /// `limit` bytes.
    fn max_value_size(&self, limit: usize) -> usize {
        let overhead = 30
            + ENCRYPTED_DATA_KEY.len()
            + ENCRYPTION_VERSION_KEY.len()
            + if self.bind {
                8 + ENCRYPTION_BINDING_KEY.len() + BINDING_COLLECTION_AND_KEY.len()
            } else {
                0
            };
        let stored = |n: usize| {
            // The compact JSON is at most as long as the sorted one.
            let token = FERNET_HEADER + (n / 16 + 1) * 16 + FERNET_MAC;
            let b64 = token.div_ceil(3) * 4;
            b64.div_ceil(3) * 4 + overhead
        };
        if stored(0) > limit {
            return 0;
        }
        let (mut lo, mut hi) = (0usize, limit);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if stored(mid) <= limit {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }
}

impl<S: KeyValue> Layer<S> for EncryptionLayer {
    type Store = Encryption<S>;

    fn layer(self, inner: S) -> Encryption<S> {
        Encryption::from_layer(inner, self)
    }
}

/// A store whose values are encrypted. See the [module docs](self).
pub struct Encryption<S> {
    inner: S,
    config: EncryptionLayer,
    info: StoreInfo,
}

impl<S: fmt::Debug> fmt::Debug for Encryption<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryption")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: KeyValue> Encryption<S> {
    /// Wraps `inner`, encrypting with `key`.
    pub fn new(inner: S, key: FernetKey) -> Self {
        Encryption::from_layer(inner, EncryptionLayer::new(key))
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: EncryptionLayer) -> Self {
        let mut info = inner.info().clone();
        let caps = info.capabilities_mut();
        caps.max_value_size = caps.max_value_size.map(|m| config.max_value_size(m));
        Encryption {
            inner,
            config,
            info,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &EncryptionLayer {
        &self.config
    }
}

impl<S: KeyValue> EntryTransform for Encryption<S> {
    type Inner = S;
    /// The Fernet token's time, in seconds.
    type Stamp = u64;

    fn transformed(&self) -> &S {
        &self.inner
    }

    fn transformed_info(&self) -> &StoreInfo {
        &self.info
    }

    fn stamp(&self) -> u64 {
        let secs = self.info.clock().now().unix_micros().div_euclid(1_000_000);
        u64::try_from(secs).unwrap_or(0)
    }

    fn on_write(
        &self,
        collection: &str,
        key: &str,
        entry: ManagedEntry,
        ts: u64,
    ) -> Result<ManagedEntry> {
        let value = self.config.encrypt(&entry.value, collection, key, ts)?;
        Ok(ManagedEntry::new(value, entry.created_at, entry.expires_at))
    }

    /// The decrypted entry; `None` for an undecryptable one when errors are not raised.
    fn on_read(
        &self,
        collection: &str,
        key: &str,
        entry: ManagedEntry,
    ) -> Result<Option<ManagedEntry>> {
        let ManagedEntry {
            value,
            created_at,
            expires_at,
        } = entry;
        match self.config.decrypt(value, collection, key) {
            Ok(value) => Ok(Some(ManagedEntry::new(value, created_at, expires_at))),
            Err(e)
                if !self.config.raise_on_error
                    && matches!(
                        e.kind(),
                        ErrorKind::Decryption
                            | ErrorKind::CorruptedData
                            | ErrorKind::EncryptionVersion
                    ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

transformed_key_value!(Encryption);

fn corrupted(message: &'static str) -> Error {
    Error::new(ErrorKind::CorruptedData, message)
}

fn decryption_failed() -> Error {
    Error::new(ErrorKind::Decryption, "Failed to decrypt value")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The Fernet specification's generate/verify vector.
    #[test]
    fn fernet_spec_vector() {
        let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        let iv: [u8; 16] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let token = key.encrypt_with(b"hello", 499_162_800, iv);
        assert_eq!(
            token,
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
        );
        assert_eq!(key.decrypt(&token).unwrap(), b"hello");
    }

    #[test]
    fn fernet_spec_invalid_tokens() {
        let key = FernetKey::from_base64("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        for token in [
            // incorrect mac
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==",
            // too short
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==",
            // invalid base64
            "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==",
            // payload size not multiple of block size
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm",
            // payload padding error
            "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==",
            // empty
            "",
        ] {
            assert!(key.decrypt_bytes(token.as_bytes()).is_none(), "{token}");
        }
    }

    #[test]
    fn debug_hides_keys() {
        let key = FernetKey::from_bytes([7; 32]);
        let layer = EncryptionLayer::new(key.clone());
        let shown = format!("{key:?} {layer:?}");
        assert!(!shown.contains(&key.to_base64()));
        assert!(!shown.contains("7, 7"));
    }

    #[test]
    fn bound_keys_differ_per_location() {
        let key = FernetKey::from_bytes([1; 32]);
        let a = key.bound_to("c", "k").to_base64();
        assert_ne!(a, key.bound_to("c", "k2").to_base64());
        assert_ne!(a, key.bound_to("ck", "").to_base64());
        assert_ne!(a, key.bound_to("", "ck").to_base64());
        assert_eq!(a, key.bound_to("c", "k").to_base64());
    }

    #[test]
    fn max_value_size_fits() {
        let layer = EncryptionLayer::new(FernetKey::from_bytes([1; 32])).bind_to_key(true);
        let n = layer.max_value_size(10_000);
        let value = Object::from_iter([("x".to_owned(), Value::from("a".repeat(n - 9)))]);
        let stored = layer.encrypt(&value, "c", "k", 0).unwrap();
        let len = key_value_core::json::to_python_json_object(&stored).len();
        assert!(len <= 10_000, "{len}");
        assert!(len > 9_000, "{len}");
    }
}
