//! Reading the picked file: one slice at a time (`Blob.slice`), so only
//! the part being hashed is in memory; a file of up to `NATIVE_WHOLE_MAX`
//! is also read once whole, for the browser to hash, and once that read
//! is done its parts take their digests from views of the one buffer (a
//! read per part costs the browser two to three times what one read of
//! the file does).

use base64::{engine::general_purpose::STANDARD, Engine as _};
use futures::{
    future::{LocalBoxFuture, Shared},
    FutureExt,
};
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
    /// The part's bytes when asked for (`keep`), else empty.
    pub bytes: Vec<u8>,
    /// Base64, as `Content-Digest` wants it.
    pub digest: String,
}

impl Prepared {
    /// Reads and hashes bytes `[start, end)`; `bytes` holds them only
    /// when `keep` (the whole-file digest is carried on in wasm). With
    /// the whole file's bytes at hand (`whole`), the digest comes from a
    /// view of them and the file is not read again.
    pub async fn read(
        file: &web_sys::File,
        start: u64,
        end: u64,
        keep: bool,
        whole: Option<&js_sys::ArrayBuffer>,
    ) -> Outcome<Prepared> {
        let slice = gloo_file::Blob::from(file.clone()).slice(start, end);
        let bytes: js_sys::Object = match whole.filter(|_| !keep) {
            Some(whole) => js_sys::Uint8Array::new_with_byte_offset_and_length(
                whole,
                start as u32,
                (end - start) as u32,
            )
            .into(),
            None => {
                let read =
                    JsFuture::from(AsRef::<web_sys::Blob>::as_ref(&slice).array_buffer()).await;
                checked(read, end - start)?.into()
            }
        };
        // The part's own digest comes from the browser's SHA-256 where the
        // page may use it (a secure context), natively and beside the copy
        // into the page's memory, which only the wasm hasher needs.
        let native = native_sha256(&bytes).map(JsFuture::from);
        let copy = || js_sys::Uint8Array::new(&bytes).to_vec();
        let kept = if keep { copy() } else { Vec::new() };
        let digest = match native {
            Some(pending) => pending.await.ok().map(|d| js_sys::Uint8Array::new(&d).to_vec()),
            None => None,
        };
        let digest = match digest {
            Some(digest) => digest,
            None if keep => Sha256::digest(&kept).to_vec(),
            None => Sha256::digest(copy()).to_vec(),
        };
        Ok(Prepared { slice, bytes: kept, digest: STANDARD.encode(digest) })
    }
}

/// Files up to this size have their whole-file SHA-256 worked out by the
/// browser (`crypto.subtle`, native) from one read of the whole file,
/// held until the upload ends; larger files are hashed in wasm part by
/// part, which costs the page's thread most of its time on a fast link.
pub const NATIVE_WHOLE_MAX: u64 = 128 * 1024 * 1024;

/// The file read once whole, and the browser's SHA-256 of it; each is
/// `None` if the read or the digest failed (the caller reads parts one by
/// one and hashes in wasm instead). The bytes are held, outside wasm's
/// memory, until the upload ends: at most `NATIVE_WHOLE_MAX`.
#[derive(Clone)]
pub struct NativeWhole {
    bytes: Shared<LocalBoxFuture<'static, Option<js_sys::ArrayBuffer>>>,
    pub digest: Shared<LocalBoxFuture<'static, Option<[u8; 32]>>>,
}

impl NativeWhole {
    /// The whole file's bytes, if the read is done and did not fail.
    pub fn bytes_now(&self) -> Option<js_sys::ArrayBuffer> {
        self.bytes.peek().cloned().flatten()
    }
}

/// Starts reading the whole file and the browser's SHA-256 of it, so they
/// run while the parts go out; `None` when the page cannot (not a secure
/// context) or the file is over `NATIVE_WHOLE_MAX`.
pub fn native_whole(file: &web_sys::File) -> Option<NativeWhole> {
    let size = file.size() as u64;
    if size > NATIVE_WHOLE_MAX || subtle().is_none() {
        return None;
    }
    let read = JsFuture::from(AsRef::<web_sys::Blob>::as_ref(file).array_buffer());
    let bytes = async move { checked(read.await, size).ok() }.boxed_local().shared();
    let of = bytes.clone();
    let digest = async move {
        let buffer = of.await?;
        let digest = JsFuture::from(native_sha256(&buffer)?).await.ok()?;
        js_sys::Uint8Array::new(&digest).to_vec().try_into().ok()
    }
    .boxed_local()
    .shared();
    wasm_bindgen_futures::spawn_local(digest.clone().map(|_| ()));
    Some(NativeWhole { bytes, digest })
}

/// `crypto.subtle`: only in secure contexts (https, localhost).
fn subtle() -> Option<web_sys::SubtleCrypto> {
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    (!subtle.is_undefined()).then_some(subtle)
}

/// The browser's SHA-256 of `buffer` (an `ArrayBuffer` or a view of one),
/// when `crypto.subtle` is there.
fn native_sha256(buffer: &js_sys::Object) -> Option<js_sys::Promise> {
    subtle()?.digest_with_str_and_buffer_source("SHA-256", buffer).ok()
}

/// Bytes `[start, end)` of the file; only this slice is read.
pub async fn read(file: &web_sys::File, start: u64, end: u64) -> Outcome<Vec<u8>> {
    let slice = gloo_file::Blob::from(file.clone()).slice(start, end);
    let read = JsFuture::from(AsRef::<web_sys::Blob>::as_ref(&slice).array_buffer()).await;
    let buffer = checked(read, end - start)?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// A finished read as its buffer, which must be `len` bytes long.
fn checked(read: Result<JsValue, JsValue>, len: u64) -> Outcome<js_sys::ArrayBuffer> {
    let buffer: js_sys::ArrayBuffer =
        read.ok().and_then(|b| b.dyn_into().ok()).ok_or_else(|| {
            Stop::Failed("the file could not be read; was it moved or changed?".into())
        })?;
    if u64::from(buffer.byte_length()) != len {
        return Err(Stop::Failed("the file changed while it was being uploaded".into()));
    }
    Ok(buffer)
}
