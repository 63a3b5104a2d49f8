//! Receiving one request's bytes: they stream through, chunk by chunk, to
//! where the plan sends them. Bytes over stored pieces are hashed to be
//! compared; new bytes go to the piece writer, carrying the whole-file
//! digest on when they start where it stands. Nothing here holds more
//! than the chunk in hand; the writer decides what it buffers.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use super::rules::{Piece, Plan};
use crate::{
    blob::PieceWriter,
    domain::digest::RunningDigest,
    error::{Error, Result},
};

/// What one request's body came to.
pub struct Received {
    /// Each stored piece the body covered, with the SHA-256 of the bytes
    /// sent over it.
    pub verified: Vec<(Piece, [u8; 32])>,
    /// Bytes handed to the writer.
    pub stored: u64,
    /// The whole-file digest after the new bytes, when they started where
    /// it stood.
    pub digest: Option<RunningDigest>,
    /// SHA-256 of the whole body, when the client announced one.
    pub body_sha: Option<[u8; 32]>,
    /// Why the body ended before its end (the connection was cut, or it
    /// arrived too slowly).
    pub cut: Option<String>,
    /// The body was dropped for arriving slower than the minimum rate.
    pub slow: bool,
}

/// The slowest a body may arrive: `bytes_per_sec` on average once `grace`
/// has passed since it began.
#[derive(Clone, Copy, Debug)]
pub struct MinRate {
    pub bytes_per_sec: u64,
    pub grace: std::time::Duration,
}

/// Limits and hashes for one body.
pub struct Receiving {
    pub start: u64,
    /// The most one request may carry (413 past it).
    pub max: u64,
    /// Content-Length, when declared.
    pub declared: Option<u64>,
    /// The whole-file digest where the new bytes start, if they start
    /// where it stands.
    pub digest: Option<RunningDigest>,
    pub hash_body: bool,
    pub min_rate: Option<MinRate>,
}

/// Streams `body` through `plan`: verified pieces first, then new bytes
/// into `writer` up to the plan's limit.
pub async fn receive<S, E>(
    body: S,
    plan: &Plan,
    receiving: Receiving,
    mut writer: Option<&mut Box<dyn PieceWriter>>,
) -> Result<Received>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let Receiving { start, max, declared, mut digest, hash_body, min_rate } = receiving;
    let began = tokio::time::Instant::now();
    let mut slow = false;
    let mut body = body;
    let mut body_hash = hash_body.then(Sha256::new);
    let mut verified = Vec::with_capacity(plan.verify.len());
    let mut pending = plan.verify.iter();
    let mut current: Option<(Piece, Sha256)> = pending.next().map(|p| (*p, Sha256::new()));
    let store_limit = plan.store.map_or(plan.verified_to(start), |(_, limit)| limit);
    let mut at = start;
    let mut stored = 0u64;
    let mut cut = None;
    loop {
        let next = match min_rate {
            None => body.next().await,
            Some(rate) => {
                // The next chunk is due before the average since the
                // start (after the grace) falls below the rate.
                let allowed = rate.grace
                    + std::time::Duration::from_secs_f64(
                        (at - start) as f64 / rate.bytes_per_sec.max(1) as f64,
                    );
                match tokio::time::timeout_at(began + allowed, body.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        slow = true;
                        cut = Some(format!(
                            "the part arrived slower than {} bytes a second",
                            rate.bytes_per_sec
                        ));
                        break;
                    }
                }
            }
        };
        let mut chunk = match next {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                cut = Some(format!("the body was cut off: {e}"));
                break;
            }
        };
        if at - start + chunk.len() as u64 > max {
            return Err(Error::BodyTooLarge { max });
        }
        if let Some(h) = &mut body_hash {
            h.update(&chunk);
        }
        while !chunk.is_empty() {
            if let Some((piece, hasher)) = &mut current {
                let take = ((piece.end - at) as usize).min(chunk.len());
                hasher.update(chunk.split_to(take));
                at += take as u64;
                if at == piece.end {
                    let (piece, hasher) = current.take().expect("just matched");
                    verified.push((piece, hasher.finalize().into()));
                    current = pending.next().map(|p| (*p, Sha256::new()));
                }
                continue;
            }
            if at + chunk.len() as u64 > store_limit {
                return Err(Error::PartSize(format!(
                    "the part runs past byte {store_limit}, where bytes are already stored, \
                     the window ends or the file ends"
                )));
            }
            at += chunk.len() as u64;
            stored += chunk.len() as u64;
            if let Some(d) = &mut digest {
                d.update(&chunk);
            }
            let w = writer.as_mut().ok_or_else(|| {
                Error::PartSize("the part carries more bytes than it declared".into())
            })?;
            w.write(std::mem::take(&mut chunk)).await?;
        }
    }
    // Empty stored pieces (a zero-byte file) are covered by an empty body.
    if let Some((piece, hasher)) = current.take().filter(|(p, _)| p.is_empty()) {
        verified.push((piece, hasher.finalize().into()));
    }
    if cut.is_none() && declared.is_some_and(|len| at - start < len) {
        cut = Some(format!("the body ended after {} of {} bytes", at - start, declared.unwrap()));
    }
    Ok(Received {
        verified,
        stored,
        digest,
        body_sha: body_hash.map(|h| h.finalize().into()),
        cut,
        slow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let owned: Vec<Result<Bytes, String>> =
            data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(owned)
    }

    fn receiving(start: u64, declared: Option<u64>) -> Receiving {
        Receiving { start, max: 1000, declared, digest: None, hash_body: true, min_rate: None }
    }

    #[tokio::test]
    async fn bytes_over_stored_pieces_are_hashed_piece_by_piece() {
        let data: Vec<u8> = (0..100u8).collect();
        let plan = Plan {
            verify: vec![
                Piece { start: 10, end: 40, part: 1 },
                Piece { start: 40, end: 110, part: 2 },
            ],
            store: None,
        };
        let got = receive(chunks(&data, 7), &plan, receiving(10, Some(100)), None).await.unwrap();
        assert_eq!(got.verified.len(), 2);
        assert_eq!(got.verified[0].1, <[u8; 32]>::from(Sha256::digest(&data[..30])));
        assert_eq!(got.verified[1].1, <[u8; 32]>::from(Sha256::digest(&data[30..])));
        assert_eq!(got.stored, 0);
        assert!(got.cut.is_none());
        assert_eq!(got.body_sha, Some(Sha256::digest(&data).into()));
    }

    /// A writer that keeps what it is given in memory.
    struct Kept(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    #[async_trait::async_trait]
    impl PieceWriter for Kept {
        async fn write(&mut self, bytes: Bytes) -> Result<()> {
            self.0.lock().unwrap().extend_from_slice(&bytes);
            Ok(())
        }
        async fn finish(self: Box<Self>) -> Result<u64> {
            Ok(self.0.lock().unwrap().len() as u64)
        }
        async fn keep_written(self: Box<Self>) -> Result<u64> {
            self.finish().await
        }
    }

    #[tokio::test]
    async fn new_bytes_go_to_the_writer_carrying_the_digest_on() {
        let data: Vec<u8> = (0..250u8).collect();
        let kept = std::sync::Arc::default();
        let mut writer: Box<dyn PieceWriter> = Box::new(Kept(std::sync::Arc::clone(&kept)));
        let plan =
            Plan { verify: vec![Piece { start: 0, end: 50, part: 1 }], store: Some((50, 250)) };
        let mut before = RunningDigest::new();
        before.update(&data[..50]);
        let receiving = Receiving { digest: Some(before), ..receiving(0, Some(250)) };
        let got = receive(chunks(&data, 64), &plan, receiving, Some(&mut writer)).await.unwrap();
        assert_eq!(got.stored, 200);
        assert_eq!(*kept.lock().unwrap(), data[50..].to_vec());
        assert_eq!(got.digest.unwrap().finish_hex(), hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn a_body_past_the_limits_is_refused_as_it_arrives() {
        let data = vec![1u8; 1001];
        let kept = std::sync::Arc::default();
        let mut writer: Box<dyn PieceWriter> = Box::new(Kept(kept));
        let plan = Plan { verify: vec![], store: Some((0, 5000)) };
        let err = receive(chunks(&data, 100), &plan, receiving(0, None), Some(&mut writer))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::BodyTooLarge { max: 1000 }), "{err:?}");
        // Past the plan's limit (stored bytes ahead): refused too.
        let plan = Plan { verify: vec![], store: Some((0, 300)) };
        let err = receive(chunks(&data[..400], 100), &plan, receiving(0, None), Some(&mut writer))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::PartSize(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_body_slower_than_the_minimum_rate_is_dropped_keeping_what_arrived() {
        let kept = std::sync::Arc::default();
        let mut writer: Box<dyn PieceWriter> = Box::new(Kept(std::sync::Arc::clone(&kept)));
        let plan = Plan { verify: vec![], store: Some((0, 1000)) };
        // Ten bytes, then nothing more.
        let trickle = futures::stream::iter([Ok::<_, String>(Bytes::from_static(b"0123456789"))])
            .chain(futures::stream::pending());
        let rate = MinRate { bytes_per_sec: 1000, grace: std::time::Duration::from_millis(50) };
        let receiving = Receiving { min_rate: Some(rate), ..receiving(0, Some(1000)) };
        let started = std::time::Instant::now();
        let got = receive(Box::pin(trickle), &plan, receiving, Some(&mut writer)).await.unwrap();
        assert!(got.slow && got.cut.unwrap().contains("slower than 1000 bytes a second"));
        assert_eq!(got.stored, 10);
        assert_eq!(kept.lock().unwrap().len(), 10);
        // 50 ms of grace and 10 ms for ten bytes, then it is dropped.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_short_body_is_reported_as_cut() {
        let data = vec![1u8; 50];
        let plan = Plan { verify: vec![Piece { start: 0, end: 50, part: 1 }], store: None };
        let got = receive(chunks(&data, 10), &plan, receiving(0, Some(80)), None).await.unwrap();
        assert!(got.cut.unwrap().contains("50 of 80"));
    }
}
