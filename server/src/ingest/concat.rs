//! tus concatenation: partial uploads stitched into a final one. The
//! final takes over its partials' stored pieces, shifted to its own
//! offsets, in one transaction once every partial is complete; no byte is
//! copied. Its whole-file SHA-256 is then taken over the pieces, as for
//! any upload, and completing it makes the file.

use futures::future::BoxFuture;

use super::digest;
use crate::{error::Result, state::AppState};

/// Stitches the final upload `final_id` if all its partials are stored
/// and nobody did it first, then completes it: the version made, if this
/// call made one. Boxed: completing a partial upload stitches, and
/// stitching moves the final's digest.
pub fn stitch(state: &AppState, final_id: i64) -> BoxFuture<'_, Result<Option<i64>>> {
    Box::pin(async move {
        if !state.db.stitch(final_id).await? {
            return Ok(None);
        }
        digest::advance(state, final_id, None, true).await
    })
}
