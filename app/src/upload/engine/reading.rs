//! Reading the picked file: one slice at a time (`Blob.slice`), so only
//! the part being hashed is in memory.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use futures::{future::LocalBoxFuture, FutureExt};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{Outcome, Stop};

/// A part read from the file and hashed; its bytes are gone once the
/// caller has fed them to the whole-file digest.
pub struct Prepared {
    /// The part's slice of the file: the request body. The browser sends
    /// it straight from the file, with no copy through the page; if the
    /// file changed since it was hashed, the server's Content-Digest
    /// check refuses it (460) and the part is read again.
    pub slice: gloo_file::Blob,
    pub bytes: Vec<u8>,
    /// Base64, as `Content-Digest` wants it.
    pub digest: String,
}

impl Prepared {
    /// Reads and hashes bytes `[start, end)`; `bytes` holds them only
    /// when `keep` (the whole-file digest is carried on in wasm).
    pub async fn read(file: &web_sys::File, start: u64, end: u64, keep: bool) -> Outcome<Prepared> {
        let slice = gloo_file::Blob::from(file.clone()).slice(start, end);
        let buffer = JsFuture::from(AsRef::<web_sys::Blob>::as_ref(&slice).array_buffer()).await;
        // The part's own digest comes from the browser's SHA-256 where the
        // page may use it (a secure context), natively and beside the copy
        // into the page's memory; the whole file's digest is carried on
        // in wasm, which can hash in steps, unless the browser hashes the
        // whole file itself (`native_whole`).
        let native = buffer.as_ref().ok().and_then(native_sha256);
        if let (Some(pending), false) = (&native, keep) {
            let len =
                buffer.as_ref().map_or(0, |b| js_sys::ArrayBuffer::from(b.clone()).byte_length());
            if u64::from(len) != end - start {
                return Err(Stop::Failed("the file changed while it was being uploaded".into()));
            }
            if let Ok(digest) = JsFuture::from(pending.clone()).await {
                let digest = STANDARD.encode(js_sys::Uint8Array::new(&digest).to_vec());
                return Ok(Prepared { slice, bytes: Vec::new(), digest });
            }
        }
        let bytes = bytes_of(buffer, end - start)?;
        let digest = match native {
            Some(pending) => match JsFuture::from(pending).await {
                Ok(digest) => STANDARD.encode(js_sys::Uint8Array::new(&digest).to_vec()),
                Err(_) => STANDARD.encode(Sha256::digest(&bytes)),
            },
            None => STANDARD.encode(Sha256::digest(&bytes)),
        };
        Ok(Prepared { slice, bytes, digest })
    }
}

/// Files up to this size have their whole-file SHA-256 worked out by the
/// browser (`crypto.subtle`, native and off the page's thread) from one
/// read of the whole file, held for the moment it takes; larger files
/// are hashed in wasm part by part, which costs the page's thread most of
/// its time on a fast link.
pub const NATIVE_WHOLE_MAX: u64 = 128 * 1024 * 1024;

/// The browser's SHA-256 of the whole file, being worked out now, or
/// `None` when the page cannot (not a secure context) or the file is over
/// `NATIVE_WHOLE_MAX`. `Err` if the read or the digest failed: the caller
/// hashes in wasm instead.
pub type NativeWhole = futures::future::Shared<LocalBoxFuture<'static, Result<Vec<u8>, ()>>>;

pub fn native_whole(file: &web_sys::File) -> Option<NativeWhole> {
    if file.size() as u64 > NATIVE_WHOLE_MAX {
        return None;
    }
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    if subtle.is_undefined() {
        return None;
    }
    let read = JsFuture::from(AsRef::<web_sys::Blob>::as_ref(file).array_buffer());
    let size = file.size() as u32;
    let digest = async move {
        let buffer = read.await.map_err(|_| ())?;
        let object: &js_sys::Object = buffer.dyn_ref().ok_or(())?;
        if js_sys::ArrayBuffer::from(buffer.clone()).byte_length() != size {
            return Err(());
        }
        let pending =
            subtle.digest_with_str_and_buffer_source("SHA-256", object).map_err(|_| ())?;
        let digest = JsFuture::from(pending).await.map_err(|_| ())?;
        Ok(js_sys::Uint8Array::new(&digest).to_vec())
    }
    .boxed_local()
    .shared();
    // Started now, so it runs while the parts go out.
    wasm_bindgen_futures::spawn_local(digest.clone().map(|_| ()));
    Some(digest)
}

/// The browser's SHA-256 of `buffer` (an `ArrayBuffer`), when
/// `crypto.subtle` is there: only in secure contexts (https, localhost).
fn native_sha256(buffer: &JsValue) -> Option<js_sys::Promise> {
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    if subtle.is_undefined() {
        return None;
    }
    let buffer: &js_sys::Object = buffer.dyn_ref()?;
    subtle.digest_with_str_and_buffer_source("SHA-256", buffer).ok()
}

/// Bytes `[start, end)` of the file; only this slice is read.
pub async fn read(file: &web_sys::File, start: u64, end: u64) -> Outcome<Vec<u8>> {
    let slice = gloo_file::Blob::from(file.clone()).slice(start, end);
    let buffer = JsFuture::from(AsRef::<web_sys::Blob>::as_ref(&slice).array_buffer());
    bytes_of(buffer.await, end - start)
}

/// The bytes of a finished read, which must be `len` long.
fn bytes_of(read: Result<JsValue, JsValue>, len: u64) -> Outcome<Vec<u8>> {
    let buffer = read
        .map_err(|_| Stop::Failed("the file could not be read; was it moved or changed?".into()))?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    if bytes.len() as u64 != len {
        return Err(Stop::Failed("the file changed while it was being uploaded".into()));
    }
    Ok(bytes)
}
