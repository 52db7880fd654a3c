//! Compresses large values before they are stored: py-key-value's `CompressionWrapper`, plus a
//! faster native mode.
//!
//! A value whose JSON text is at least [`min_size_to_compress`](CompressionLayer::min_size_to_compress)
//! characters long (1024 by default, measured as py-key-value's `estimate_serialized_size`:
//! `len(json.dumps(value, sort_keys=True))`) is replaced, in the wrapped store, by a small
//! object holding its compressed JSON:
//!
//! ```text
//! {"__compressed_data__": "<standard base64>", "__compression_algorithm__": "gzip", "__compression_version__": 1}
//! ```
//!
//! Smaller values, and values that already contain a `__compressed_data__` field, are stored
//! unchanged. Reads turn marker objects back into the original value and return every other
//! object as it is, so a store can hold compressed and uncompressed values side by side and
//! the wrapper can be added to a store that already has data.
//!
//! # Two algorithms
//!
//! - [`Algorithm::Gzip`] (the default) is py-key-value's format: the compact JSON
//!   (`json.dumps(value, separators=(",", ":"))`, ASCII-escaped) compressed with gzip at level 1,
//!   with CPython's gzip header (modification time, `XFL` 4, OS 255). Python reads what this
//!   wrapper writes and the reverse. The deflate stream comes from miniz_oxide rather than
//!   zlib, so the compressed bytes differ from CPython's (as they differ between two CPython
//!   calls a second apart, through the header's time stamp); the format and the decompressed
//!   bytes are the same.
//! - [`Algorithm::Lz4`] ([`CompressionLayer::native`]) is several times faster to write and
//!   to read, at a lower compression ratio. It stores an LZ4 block (the uncompressed length as
//!   4 little-endian bytes, then the block, as `lz4_flex::compress_prepend_size` writes it)
//!   with `"__compression_algorithm__": "lz4"`. LZ4 (the pure-Rust `lz4_flex` crate) was
//!   chosen over zstd because zstd's Rust crate binds the C library while `lz4_flex` needs no C
//!   compiler, and because the point of this mode is speed on small values, where LZ4 is the
//!   faster of the two. **py-key-value cannot read this mode**: its wrapper tries gzip, fails,
//!   and returns the marker object to its caller unchanged.
//!
//! Reading accepts both algorithms whatever the write mode, so a store can switch modes
//! without rewriting its data. A marker without `__compression_algorithm__` is gzip (Python
//! never looks at the field).
//!
//! # How it differs from py-key-value's wrapper
//!
//! - Data that cannot be decompressed (bad base64, a corrupt gzip or LZ4 stream, JSON that is
//!   not an object, an unknown algorithm) is an [`ErrorKind::Deserialization`] error; Python
//!   silently returns the stored marker object instead. [`CompressionLayer::return_undecodable`]
//!   restores Python's behaviour.
//! - Decompression stops at [`max_decompressed_size`](CompressionLayer::max_decompressed_size)
//!   (512 MiB by default), so a corrupt or hostile entry cannot exhaust memory; writes whose JSON
//!   is larger are refused with [`ErrorKind::ValueTooLarge`] so that nothing unreadable is
//!   written. Python has no limit.
//! - The compact JSON has its keys sorted (Python keeps insertion order); both read alike.
//! - The level is configurable ([`CompressionLayer::gzip_level`]); Python always uses 1.
//!
//! The wrapper keeps batches as batches and forwards enumeration, destroy, cull and close. Its
//! [`StoreInfo`] is the wrapped store's, with `max_value_size` set to the largest value that
//! is sure to fit in the wrapped store's limit once compressed (the compressed size of a
//! value cannot be known in advance, so the bound assumes incompressible data) and to the
//! decompression limit.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::LayerExt;
//! use key_value_wrappers::compression::CompressionLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new().layer(CompressionLayer::new());
//! let big = object!({"text": "to be or not to be ".repeat(100)});
//! store.put("big", big.clone()).await?;
//! assert_eq!(store.get("big").await?, Some(big));
//!
//! // Underneath, the value is a small gzip marker object.
//! let raw = store.inner().get("big").await?.unwrap_or_default();
//! assert_eq!(raw["__compression_algorithm__"], "gzip");
//! assert_eq!(raw["__compression_version__"], 1);
//! assert!(raw["__compressed_data__"].as_str().is_some_and(|d| d.len() < 200));
//!
//! // Small values are stored as they are.
//! store.put("small", object!({"n": 1})).await?;
//! assert_eq!(store.inner().get("small").await?, Some(object!({"n": 1})));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use key_value_core::entry::ManagedEntry;
use key_value_core::json::{parse_object, write_python_json_compact_object};
use key_value_core::{Error, ErrorKind, KeyValue, Object, Result, StoreInfo};
use serde_json::Value;

use crate::Layer;
use crate::transform::{EntryTransform, transformed_key_value};

/// The field holding the base64 of the compressed JSON.
pub const COMPRESSED_DATA_KEY: &str = "__compressed_data__";
/// The field holding the format version ([`COMPRESSION_VERSION`]).
pub const COMPRESSION_VERSION_KEY: &str = "__compression_version__";
/// The field naming the algorithm (`"gzip"` or `"lz4"`).
pub const COMPRESSION_ALGORITHM_KEY: &str = "__compression_algorithm__";
/// The format version written, as py-key-value's `_COMPRESSION_VERSION`.
pub const COMPRESSION_VERSION: u64 = 1;
/// py-key-value's default threshold: values of at least 1024 characters of JSON are compressed.
pub const DEFAULT_MIN_SIZE_TO_COMPRESS: usize = 1024;
/// The default [decompression limit](CompressionLayer::max_decompressed_size): 512 MiB.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 512 << 20;

/// The stored JSON around the base64 text: `{"__compressed_data__": "", "__compression_algorithm__": "gzip", "__compression_version__": 1}`
/// less the data, rounded up (the algorithm name is at most 4 characters).
const MARKER_OVERHEAD: usize = 100;

/// A compression algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// gzip, as py-key-value writes and reads it.
    #[default]
    Gzip,
    /// LZ4 block format with a 4-byte length prefix; faster, not readable by py-key-value.
    Lz4,
}

impl Algorithm {
    /// The name stored in `__compression_algorithm__`.
    ///
    /// ```
    /// use key_value_wrappers::compression::Algorithm;
    /// assert_eq!(Algorithm::Gzip.name(), "gzip");
    /// assert_eq!(Algorithm::from_name("lz4"), Some(Algorithm::Lz4));
    /// assert_eq!(Algorithm::from_name("zip"), None);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Gzip => "gzip",
            Algorithm::Lz4 => "lz4",
        }
    }

    /// The algorithm stored under `name`, if known.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "gzip" => Some(Algorithm::Gzip),
            "lz4" => Some(Algorithm::Lz4),
            _ => None,
        }
    }
}

/// The configuration of [`Compression`]: algorithm, threshold and limits.
///
/// [`CompressionLayer::new`] is py-key-value's configuration (gzip level 1, threshold 1024);
/// [`CompressionLayer::native`] the fast LZ4 mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionLayer {
    algorithm: Algorithm,
    min_size: usize,
    gzip_level: u32,
    max_decompressed: usize,
    return_undecodable: bool,
}

impl Default for CompressionLayer {
    fn default() -> Self {
        CompressionLayer::new()
    }
}

impl CompressionLayer {
    /// py-key-value's configuration: gzip at level 1, values of at least 1024 characters of
    /// JSON compressed.
    pub fn new() -> Self {
        CompressionLayer {
            algorithm: Algorithm::Gzip,
            min_size: DEFAULT_MIN_SIZE_TO_COMPRESS,
            gzip_level: 1,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED_SIZE,
            return_undecodable: false,
        }
    }

    /// The fast native mode: LZ4, same threshold. py-key-value cannot read what it writes.
    pub fn native() -> Self {
        CompressionLayer::new().algorithm(Algorithm::Lz4)
    }

    /// The algorithm used for writes (reads accept every algorithm).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Compresses values whose JSON (`json.dumps(value, sort_keys=True)`) is at least `chars`
    /// characters long (py: `min_size_to_compress`, default 1024). 0 compresses every value.
    pub fn min_size_to_compress(mut self, chars: usize) -> Self {
        self.min_size = chars;
        self
    }

    /// The gzip level, 0 (stored) to 9 (smallest); larger numbers mean 9. Default 1, as
    /// py-key-value. Every level reads back alike, in Rust and in Python.
    pub fn gzip_level(mut self, level: u32) -> Self {
        self.gzip_level = level.min(9);
        self
    }

    /// The largest decompressed JSON a read accepts, in bytes (default 512 MiB); larger data is
    /// an [`ErrorKind::Deserialization`] error, and writes whose JSON is larger are refused
    /// with [`ErrorKind::ValueTooLarge`].
    pub fn max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed = bytes;
        self
    }

    /// With `true`, a marker object that cannot be decompressed is returned as it is stored,
    /// as py-key-value does, instead of being an [`ErrorKind::Deserialization`] error.
    pub fn return_undecodable(mut self, yes: bool) -> Self {
        self.return_undecodable = yes;
        self
    }

    /// The write algorithm.
    pub fn write_algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The threshold, in characters of JSON.
    pub fn threshold(&self) -> usize {
        self.min_size
    }

    /// The value as it is stored: a marker object when it is compressed, else unchanged.
    ///
    /// `mtime` is the gzip header's modification time (seconds since the epoch), as CPython
    /// writes it.
    ///
    /// ```
    /// use key_value_core::object;
    /// use key_value_wrappers::compression::CompressionLayer;
    ///
    /// let layer = CompressionLayer::new().min_size_to_compress(10);
    /// let value = object!({"text": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"});
    /// let stored = layer.compress(value.clone(), 0)?;
    /// assert!(stored.contains_key("__compressed_data__"));
    /// assert_eq!(layer.decompress(stored)?, value);
    /// assert_eq!(layer.compress(object!({"n": 1}), 0)?, object!({"n": 1}));
    /// # Ok::<(), key_value_core::Error>(())
    /// ```
    pub fn compress(&self, value: Object, mtime: u32) -> Result<Object> {
        if value.contains_key(COMPRESSED_DATA_KEY) {
            return Ok(value);
        }
        let mut json = String::new();
        write_python_json_compact_object(&mut json, &value);
        // py measures the `sort_keys=True` text, which has one space after each `:` and `,`:
        // counting them saves writing the value twice.
        let size = json.len() + object_spaces(&value);
        if size < self.min_size {
            return Ok(value);
        }
        if json.len() > self.max_decompressed {
            return Err(Error::new(
                ErrorKind::ValueTooLarge,
                format!(
                    "the value's JSON ({} bytes) is larger than the decompression limit ({} bytes)",
                    json.len(),
                    self.max_decompressed
                ),
            ));
        }
        let compressed = match self.algorithm {
            Algorithm::Gzip => gzip(json.as_bytes(), self.gzip_level, mtime)?,
            Algorithm::Lz4 => lz4_flex::compress_prepend_size(json.as_bytes()),
        };
        drop(json);
        let mut out = Object::new();
        out.insert(
            COMPRESSED_DATA_KEY.to_owned(),
            Value::String(STANDARD.encode(compressed)),
        );
        out.insert(
            COMPRESSION_VERSION_KEY.to_owned(),
            Value::from(COMPRESSION_VERSION),
        );
        out.insert(
            COMPRESSION_ALGORITHM_KEY.to_owned(),
            Value::from(self.algorithm.name()),
        );
        Ok(out)
    }

    /// The original value of a stored one: marker objects are decompressed, everything else is
    /// returned unchanged.
    ///
    /// # Errors
    /// [`ErrorKind::Deserialization`] when a marker cannot be decompressed (unless
    /// [`return_undecodable`](Self::return_undecodable) is set).
    pub fn decompress(&self, stored: Object) -> Result<Object> {
        let data = match stored.get(COMPRESSED_DATA_KEY) {
            // As py-key-value: only a string is compressed data; anything else is a user value.
            Some(Value::String(data)) => data,
            _ => return Ok(stored),
        };
        match self.decode(data, stored.get(COMPRESSION_ALGORITHM_KEY)) {
            Ok(value) => Ok(value),
            Err(_) if self.return_undecodable => Ok(stored),
            Err(e) => Err(e),
        }
    }

    fn decode(&self, data: &str, algorithm: Option<&Value>) -> Result<Object> {
        let algorithm = match algorithm {
            None => Algorithm::Gzip,
            Some(Value::String(name)) => Algorithm::from_name(name).ok_or_else(|| {
                corrupt(format!(
                    "unknown compression algorithm {:?} (known: gzip, lz4)",
                    truncate(name, 32)
                ))
            })?,
            Some(_) => return Err(corrupt("the compression algorithm is not a string")),
        };
        let bytes = STANDARD
            .decode(data)
            .map_err(|e| corrupt("the compressed data is not valid base64").with_source(e))?;
        let json = match algorithm {
            Algorithm::Gzip => gunzip(&bytes, self.max_decompressed)?,
            Algorithm::Lz4 => unlz4(&bytes, self.max_decompressed)?,
        };
        let text = std::str::from_utf8(&json)
            .map_err(|e| corrupt("the decompressed data is not UTF-8").with_source(e))?;
        parse_object(text)
            .map_err(|e| corrupt("the decompressed data is not a JSON object").with_source(e))
    }

    /// The largest value (in characters of `sort_keys=True` JSON) that is sure to fit, once
    /// stored, in `inner_limit` bytes, and to be readable under the decompression limit.
    fn max_value_size(&self, inner_limit: Option<usize>) -> usize {
        let fits_inner = inner_limit.map_or(usize::MAX, |limit| {
            largest_fitting(limit, |n| self.worst_stored_size(n))
        });
        fits_inner.min(self.max_decompressed)
    }

    /// The largest stored size a value of `n` characters can have: unchanged below the
    /// threshold, else incompressible data in the marker object.
    fn worst_stored_size(&self, n: usize) -> usize {
        let compressed = match self.algorithm {
            // Incompressible data goes into stored blocks, each behind a 5-byte header
            // (miniz_oxide cuts them smaller than deflate's 65535-byte maximum: 16 KiB is
            // assumed); the gzip header and trailer add 18.
            Algorithm::Gzip => n
                .saturating_add(5usize.saturating_mul(n / 16_384 + 1))
                .saturating_add(18),
            // LZ4's bound: one literal-length byte per 255 literals, plus the end and prefix.
            Algorithm::Lz4 => n.saturating_add(n / 255).saturating_add(16 + 4),
        };
        let stored = compressed
            .div_ceil(3)
            .saturating_mul(4)
            .saturating_add(MARKER_OVERHEAD);
        stored.max(n)
    }
}

impl<S: KeyValue> Layer<S> for CompressionLayer {
    type Store = Compression<S>;

    fn layer(self, inner: S) -> Compression<S> {
        Compression::from_layer(inner, self)
    }
}

/// A store whose large values are compressed. See the [module docs](self).
#[derive(Debug)]
pub struct Compression<S> {
    inner: S,
    config: CompressionLayer,
    info: StoreInfo,
}

impl<S: KeyValue> Compression<S> {
    /// Wraps `inner` with py-key-value's configuration ([`CompressionLayer::new`]).
    pub fn new(inner: S) -> Self {
        Compression::from_layer(inner, CompressionLayer::new())
    }

    /// Wraps `inner` with a full configuration.
    pub fn from_layer(inner: S, config: CompressionLayer) -> Self {
        let mut info = inner.info().clone();
        let caps = info.capabilities_mut();
        caps.max_value_size = Some(config.max_value_size(caps.max_value_size));
        Compression {
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
    pub fn config(&self) -> &CompressionLayer {
        &self.config
    }
}

impl<S: KeyValue> EntryTransform for Compression<S> {
    type Inner = S;
    /// gzip's header time, in seconds (py-key-value writes it too).
    type Stamp = u32;

    fn transformed(&self) -> &S {
        &self.inner
    }

    fn transformed_info(&self) -> &StoreInfo {
        &self.info
    }

    fn stamp(&self) -> u32 {
        let secs = self.info.clock().now().unix_micros().div_euclid(1_000_000);
        u32::try_from(secs.max(0)).unwrap_or(u32::MAX)
    }

    fn on_write(
        &self,
        _collection: &str,
        _key: &str,
        entry: ManagedEntry,
        mtime: u32,
    ) -> Result<ManagedEntry> {
        let ManagedEntry {
            value,
            created_at,
            expires_at,
        } = entry;
        Ok(ManagedEntry::new(
            self.config.compress(value, mtime)?,
            created_at,
            expires_at,
        ))
    }

    fn on_read(
        &self,
        _collection: &str,
        _key: &str,
        entry: ManagedEntry,
    ) -> Result<Option<ManagedEntry>> {
        let ManagedEntry {
            value,
            created_at,
            expires_at,
        } = entry;
        Ok(Some(ManagedEntry::new(
            self.config.decompress(value)?,
            created_at,
            expires_at,
        )))
    }
}

transformed_key_value!(Compression);

/// How many characters `json.dumps(v, sort_keys=True)` writes beyond the compact form: a space
/// after every `:` and after every `,`.
fn object_spaces(map: &Object) -> usize {
    let own = map.len() + map.len().saturating_sub(1);
    map.values().fold(own, |n, v| n + value_spaces(v))
}

fn value_spaces(value: &Value) -> usize {
    match value {
        Value::Object(map) => object_spaces(map),
        Value::Array(items) => items
            .iter()
            .fold(items.len().saturating_sub(1), |n, v| n + value_spaces(v)),
        _ => 0,
    }
}

/// The largest `n` with `size(n) <= limit`, for a non-decreasing `size`.
fn largest_fitting(limit: usize, size: impl Fn(usize) -> usize) -> usize {
    if size(0) > limit {
        return 0;
    }
    let (mut lo, mut hi) = (0usize, limit);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if size(mid) <= limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// gzip exactly as CPython's `gzip.compress(data, compresslevel, mtime=...)` frames it: a
/// 10-byte header without optional fields (`XFL` 2 for level 9, 4 for level 1, else 0; OS
/// 255), a raw deflate stream, then CRC-32 and length.
fn gzip(data: &[u8], level: u32, mtime: u32) -> Result<Vec<u8>> {
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0]);
    out.extend_from_slice(&mtime.to_le_bytes());
    out.extend_from_slice(&[xfl, 255]);
    let mut encoder = flate2::write::DeflateEncoder::new(out, flate2::Compression::new(level));
    let written = encoder.write_all(data).and_then(|()| encoder.finish());
    let mut out = written.map_err(|e| {
        Error::new(ErrorKind::Serialization, "gzip compression failed").with_source(e)
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952).
    #[allow(clippy::cast_possible_truncation)]
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

/// Decompresses every gzip member of `data`, as CPython's `gzip.decompress`, up to `limit`
/// bytes.
fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let decoder = flate2::read::MultiGzDecoder::new(data);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| corrupt("the gzip data is corrupt").with_source(e))?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

/// Decompresses a length-prefixed LZ4 block, refusing lengths above `limit` or beyond what
/// the block could possibly expand to (so a corrupt prefix cannot allocate gigabytes).
fn unlz4(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let (prefix, block) = data
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("the LZ4 data is shorter than its length prefix"))?;
    let len = usize::try_from(u32::from_le_bytes(*prefix)).unwrap_or(usize::MAX);
    if len > limit {
        return Err(too_large(limit));
    }
    // Each LZ4 sequence of at least one byte yields at most 255 bytes per input byte (plus a
    // few for the final literals).
    if len > block.len().saturating_mul(255).saturating_add(16) {
        return Err(corrupt(
            "the LZ4 length prefix is larger than the data can hold",
        ));
    }
    let mut out = vec![0u8; len];
    let n = lz4_flex::block::decompress_into(block, &mut out)
        .map_err(|e| corrupt("the LZ4 data is corrupt").with_source(e))?;
    if n != len {
        return Err(corrupt("the LZ4 data does not match its length prefix"));
    }
    Ok(out)
}

fn corrupt(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Deserialization, message)
}

fn too_large(limit: usize) -> Error {
    corrupt(format!(
        "the decompressed data is larger than the limit of {limit} bytes"
    ))
}

/// At most `max` characters of `s`, for messages about stored data.
fn truncate(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use key_value_core::json::to_python_json_object;
    use key_value_core::object;

    #[test]
    fn estimate_matches_python_sort_keys_length() {
        let values = [
            object!({}),
            object!({"a": 1}),
            object!({"a": [], "b": {}, "c": [1, [2, 3], {"x": null, "y": [true]}], "é": "🌍"}),
            object!({"nested": {"deep": {"deeper": [1.5, -2, "s", {"k": "v", "l": []}]}}}),
        ];
        for v in values {
            let mut compact = String::new();
            write_python_json_compact_object(&mut compact, &v);
            assert_eq!(
                compact.len() + object_spaces(&v),
                to_python_json_object(&v).len(),
                "{v:?}"
            );
        }
    }

    #[test]
    fn largest_fitting_is_exact() {
        assert_eq!(largest_fitting(100, |n| n * 2), 50);
        assert_eq!(largest_fitting(101, |n| n * 2), 50);
        assert_eq!(largest_fitting(5, |n| n + 10), 0);
        assert_eq!(largest_fitting(usize::MAX, |n| n), usize::MAX);
    }

    #[test]
    fn worst_case_bound_holds_for_incompressible_data() {
        // Pseudo-random printable text: hardly compressible.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let text: String = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + u8::try_from(x % 90).unwrap())
            })
            .filter(|c| *c != '"' && *c != '\\')
            .collect();
        let value = object!({"t": text});
        let n = to_python_json_object(&value).len();
        for layer in [
            CompressionLayer::new().min_size_to_compress(0),
            CompressionLayer::native().min_size_to_compress(0),
            CompressionLayer::new()
                .gzip_level(0)
                .min_size_to_compress(0),
        ] {
            let stored = layer.compress(value.clone(), 0).unwrap();
            let size = to_python_json_object(&stored).len();
            assert!(
                size <= layer.worst_stored_size(n),
                "{size} > bound {} for {n} ({layer:?})",
                layer.worst_stored_size(n)
            );
        }
    }

    #[test]
    fn lz4_size_prefix_smaller_than_data_is_an_error() {
        let mut data = lz4_flex::compress_prepend_size(&[b'a'; 1000]);
        data[..4].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(
            unlz4(&data, 1 << 20).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
        let mut data = lz4_flex::compress_prepend_size(&[b'a'; 1000]);
        data[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            unlz4(&data, usize::MAX).unwrap_err().kind(),
            ErrorKind::Deserialization
        );
    }

    #[test]
    fn gzip_header_is_cpythons() {
        let out = gzip(b"{}", 1, 0x0102_0304).unwrap();
        assert_eq!(&out[..10], &[0x1f, 0x8b, 8, 0, 4, 3, 2, 1, 4, 255]);
        assert_eq!(gunzip(&out, 10).unwrap(), b"{}");
        assert_eq!(gzip(b"{}", 9, 0).unwrap()[8], 2);
        assert_eq!(gzip(b"{}", 5, 0).unwrap()[8], 0);
    }
}
