//! Making and storing previews when an image upload completes with
//! `with_preview`. A preview that cannot be made is logged and skipped:
//! the upload itself never fails because of it.

use bytes::Bytes;
use futures::TryStreamExt;
use tokio::sync::Semaphore;

use crate::{
    blob::BlobKey,
    domain::preview::{self, MAX_SOURCE_BYTES},
    error::{Error, Result},
    state::AppState,
    store::{files::PreviewRecord, sessions::SessionRecord},
};

/// One image decoded at a time keeps memory bounded whatever the load.
static DECODING: Semaphore = Semaphore::const_new(1);

/// Makes the previews of the version `session` uploaded, if it is an image
/// small enough to decode.
pub async fn make(state: &AppState, session: &SessionRecord, version_id: i64) {
    if !session.mime_type.starts_with("image/") || session.file_size as u64 > MAX_SOURCE_BYTES {
        return;
    }
    if let Err(e) = try_make(state, session, version_id).await {
        tracing::warn!(session = session.id, error = %e, "no preview made");
    }
}

async fn try_make(state: &AppState, session: &SessionRecord, version_id: i64) -> Result<()> {
    let _turn = DECODING.acquire().await.expect("the semaphore is never closed");
    let mut source = Vec::with_capacity(session.file_size as usize);
    for piece in state.db.pieces(session.id).await? {
        let chunks: Vec<Bytes> =
            crate::ingest::digest::read_piece(state, &piece).await?.try_collect().await?;
        chunks.iter().for_each(|c| source.extend_from_slice(c));
    }
    let rendered = tokio::task::spawn_blocking(move || preview::render(&source))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
        .map_err(Error::Validation)?;
    for preview in rendered {
        let key = BlobKey::new(format!("previews/{version_id}/{}", preview.width))?;
        state.blobs.put(&key, Bytes::from(preview.bytes)).await?;
        state
            .db
            .add_preview(&PreviewRecord {
                version_id,
                width: i64::from(preview.width),
                height: i64::from(preview.height),
                mime_type: preview.mime_type.to_owned(),
                blob_key: key.as_str().to_owned(),
            })
            .await?;
    }
    Ok(())
}
