//! The upload path's small writes, sharing commits.
//!
//! Every piece an upload stores is recorded, and the whole-file digest's
//! cursor moves after it: two small writes per part, each durable before
//! the part is acknowledged. On SQLite every commit is a WAL fsync and
//! writers take turns, so with several parts in flight the turns queue up
//! behind one fsync after another. Here, the writes that queued while a
//! commit was under way go together in the next transaction: one fsync
//! for all of them (group commit). Each write keeps its own statements
//! and its own outcome, in the order the writes queued; a batch that
//! fails is done again write by write, so a bad write fails alone.
//! PostgreSQL takes concurrent writers itself: each write is its own
//! transaction there.
//!
//! A write runs in a task of its own, which keeps what its caller hands it
//! (a [`Hold`]: the claim on the range the recorded bytes were written to)
//! until the write committed or failed. A request dropped midway (its
//! client went away) cannot let its claim go while its record may still
//! commit, so no other request writes over bytes a record points to. A
//! write still queued when its request is dropped leaves the queue.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::oneshot;

use super::{
    sessions::{move_digest, DigestCursor, NewPiece},
    Db, DbKind,
};
use crate::error::{Error, Result};

/// Something the caller keeps until its write is settled.
pub type Hold = Box<dyn Send + Sync>;

/// One of the upload path's writes.
pub enum Write {
    /// Records a durable piece, unless the session no longer takes bytes
    /// or a recorded piece overlaps it: true when recorded.
    Record(NewPiece),
    /// Moves the digest by compare-and-set: true when it moved.
    MoveDigest { session_id: i64, from: DigestCursor, to: DigestCursor },
}

struct Queued {
    id: u64,
    write: Write,
    hold: Option<Hold>,
    done: oneshot::Sender<Result<bool>>,
}

/// The writes waiting for the next commit.
#[derive(Default)]
pub struct SharedCommits {
    queue: Mutex<Vec<Queued>>,
    next_id: AtomicU64,
    /// Transactions committed for queued writes, since start.
    commits: AtomicU64,
}

impl SharedCommits {
    /// Transactions committed for queued writes since start (SQLite).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Writes waiting for the next commit.
    pub fn queued(&self) -> usize {
        self.queue.lock().expect("never poisoned").len()
    }
}

/// Takes a dropped request's write out of the queue, if no commit took
/// it yet (its hold goes with it).
struct Unqueue<'a> {
    commits: &'a SharedCommits,
    id: u64,
}

impl Drop for Unqueue<'_> {
    fn drop(&mut self) {
        self.commits.queue.lock().expect("never poisoned").retain(|q| q.id != self.id);
    }
}

impl Db {
    /// Does `write`, durably, keeping `hold` until it is settled; see the
    /// module doc.
    pub async fn shared_write(&self, write: Write, hold: Option<Hold>) -> Result<bool> {
        if self.kind == DbKind::Postgres {
            let pool = self.pool.clone();
            let task = tokio::spawn(async move {
                let outcome = alone(&pool, &write).await;
                drop(hold);
                outcome
            });
            return task.await.map_err(|e| Error::Io(std::io::Error::other(e)))?;
        }
        let (done, answer) = oneshot::channel();
        let commits = &*self.commits;
        let id = commits.next_id.fetch_add(1, Ordering::Relaxed);
        commits.queue.lock().expect("never poisoned").push(Queued { id, write, hold, done });
        let unqueue = Unqueue { commits, id };
        let turn = self.write_turn.clone().lock_owned().await;
        let batch = std::mem::take(&mut *commits.queue.lock().expect("never poisoned"));
        if batch.is_empty() {
            // An earlier turn took this write with its own.
            drop(turn);
        } else {
            let (pool, commits) = (self.pool.clone(), self.commits.clone());
            // The batch goes on even if this request is dropped: the
            // other writes in it belong to requests still waiting.
            let task = tokio::spawn(async move {
                commit_batch(&pool, &commits, batch).await;
                drop(turn);
            });
            // A panic in the task drops every answer; each waiter hears.
            let _ = task.await;
        }
        drop(unqueue);
        answer.await.map_err(|_| {
            Error::Io(std::io::Error::other("the shared commit ended without an answer"))
        })?
    }
}

/// Commits the batch in one transaction, or write by write if that fails.
async fn commit_batch(pool: &AnyPool, commits: &SharedCommits, batch: Vec<Queued>) {
    if batch.len() > 1 {
        if let Ok(outcomes) = together(pool, &batch).await {
            commits.commits.fetch_add(1, Ordering::Relaxed);
            for (queued, outcome) in batch.into_iter().zip(outcomes) {
                let _ = queued.done.send(Ok(outcome));
            }
            return;
        }
    }
    for Queued { write, hold, done, .. } in batch {
        let outcome = alone(pool, &write).await;
        if outcome.is_ok() {
            commits.commits.fetch_add(1, Ordering::Relaxed);
        }
        drop(hold);
        let _ = done.send(outcome);
    }
}

async fn together(pool: &AnyPool, batch: &[Queued]) -> Result<Vec<bool>> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for queued in batch {
        outcomes.push(apply(&mut tx, &queued.write).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn alone(pool: &AnyPool, write: &Write) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let outcome = apply(&mut tx, write).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// One write's statements, inside the caller's transaction.
async fn apply(conn: &mut AnyConnection, write: &Write) -> Result<bool> {
    match write {
        Write::Record(piece) => {
            // The row lock (SQLite: the write lock) orders the pieces of
            // one session, so the overlap check below sees every earlier
            // insert, including those earlier in this batch.
            let open = sqlx::query(
                "update upload_sessions set status = status \
                 where id = $1 and status = 'uploading' and expires_at > $2",
            )
            .bind(piece.session_id)
            .bind(piece.now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if open != 1 {
                return Ok(false);
            }
            // Recorded pieces never overlap, so one overlaps this piece
            // only if it starts inside it, or is the last to start before
            // it and reaches into it: two index lookups, not a scan of
            // every piece before this one (thousands in a large upload).
            let inserted = sqlx::query(
                "insert into upload_pieces (session_id, start_offset, end_offset, part_number, \
                     blob_key, blob_offset, created_at) \
                 select $1, $2, $3, $4, $5, $6, $7 \
                 where not exists (select 1 from upload_pieces where session_id = $1 \
                     and start_offset >= $2 and (start_offset < $3 or start_offset = $2)) \
                 and not exists (select 1 from upload_pieces where session_id = $1 \
                     and start_offset = (select max(start_offset) from upload_pieces \
                         where session_id = $1 and start_offset < $2) \
                     and end_offset > $2) \
                 on conflict (session_id, start_offset) do nothing",
            )
            .bind(piece.session_id)
            .bind(piece.start)
            .bind(piece.end)
            .bind(piece.part_number)
            .bind(piece.blob_key.as_str())
            .bind(piece.blob_offset)
            .bind(piece.now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(inserted == 1)
        }
        Write::MoveDigest { session_id, from, to } => {
            let moved = move_digest(*session_id, from, to).execute(&mut *conn).await?;
            Ok(moved.rows_affected() == 1)
        }
    }
}

impl std::fmt::Debug for SharedCommits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = self.queue.lock().expect("never poisoned").len();
        f.debug_struct("SharedCommits").field("queued", &queued).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{atomic::AtomicBool, Arc};

    use super::*;
    use crate::{
        store::sessions::{NewSession, OpenLimits, Opened, SessionRecord},
        testing::{Backend, TestDb},
    };

    async fn session(db: &Db, size: i64) -> SessionRecord {
        let account = db.ensure_account("a").await.unwrap();
        let now = crate::store::now_unix();
        let new = NewSession {
            account,
            file_name: "f.bin",
            file_size: size,
            mime_type: "application/octet-stream",
            part_size: 100,
            target_file_id: None,
            with_preview: false,
            expected_sha256: None,
            created_by: 0,
            created_at: now,
            expires_at: now + 3600,
            concat: None,
            length_deferred: false,
        };
        let limits = OpenLimits { sessions: 10, quota: None, now };
        match db.create_session(new, limits).await.unwrap() {
            Opened::Session(session) => *session,
            refused => panic!("{refused:?}"),
        }
    }

    fn piece(session_id: i64, start: i64, key: &str) -> NewPiece {
        NewPiece {
            session_id,
            start,
            end: start + 100,
            part_number: start / 100 + 1,
            blob_key: key.to_owned(),
            blob_offset: start,
            now: crate::store::now_unix(),
        }
    }

    /// Sets a flag when dropped.
    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    async fn writes_queued_together_keep_their_own_outcomes(backend: Backend) {
        let t = TestDb::new(backend).await;
        let db = t.db.clone();
        let s = session(&db, 800).await;
        // Every start once as "first", and four of them again as "again":
        // each start is recorded once, whichever comes first.
        let turn = db.write_turn().await;
        let mut tasks = Vec::new();
        for (start, key) in
            (0..8).map(|i| (i * 100, "first")).chain((0..4).map(|i| (i * 200, "again")))
        {
            let db = db.clone();
            let flag = Arc::new(AtomicBool::new(false));
            let hold: Hold = Box::new(Flag(flag.clone()));
            let task = tokio::spawn(async move {
                let recorded = db.record_piece(piece(s.id, start, key), Some(hold)).await;
                (start, recorded.unwrap(), flag.load(Ordering::SeqCst))
            });
            tasks.push(task);
        }
        if db.kind() == DbKind::Sqlite {
            // All twelve wait for one turn: they go in one transaction.
            while db.commits.queued() < 12 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        let before = db.commits.commits();
        drop(turn);
        let mut recorded = 0;
        for task in tasks {
            let (start, was_recorded, hold_dropped) = task.await.unwrap();
            assert!(hold_dropped, "the hold of {start} went once its write was settled");
            recorded += usize::from(was_recorded);
        }
        assert_eq!(recorded, 8, "each start recorded once");
        let pieces = db.pieces(s.id).await.unwrap();
        let starts: Vec<i64> = pieces.iter().map(|p| p.start_offset).collect();
        assert_eq!(starts, (0..8).map(|i| i * 100).collect::<Vec<_>>());
        if db.kind() == DbKind::Sqlite {
            assert_eq!(db.commits.commits() - before, 1, "one commit for the twelve writes");
            assert!(pieces.iter().all(|p| p.blob_key == "first"), "queued first, applied first");
        }
        // A digest move in a batch is a compare-and-set like any other.
        let from = DigestCursor { upto: 0, state: None };
        let to = DigestCursor { upto: 100, state: Some(vec![1]) };
        let (a, b) =
            tokio::join!(db.advance_digest(s.id, &from, &to), db.advance_digest(s.id, &from, &to));
        assert_eq!(u8::from(a.unwrap()) + u8::from(b.unwrap()), 1, "one of two moves wins");
        assert_eq!(db.session(s.id).await.unwrap().unwrap().digest_upto, 100);
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_writes_queued_together_share_one_commit() {
        writes_queued_together_keep_their_own_outcomes(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_writes_keep_their_own_outcomes() {
        writes_queued_together_keep_their_own_outcomes(Backend::Postgres).await;
    }

    /// A piece `[start, end)` recorded with its own key.
    fn span(session_id: i64, start: i64, end: i64) -> NewPiece {
        NewPiece { end, ..piece(session_id, start, &format!("{start}-{end}")) }
    }

    async fn a_piece_overlapping_a_recorded_one_is_not_recorded(backend: Backend) {
        let t = TestDb::new(backend).await;
        let db = t.db.clone();
        let s = session(&db, 1000).await;
        for (start, end) in [(0, 100), (100, 250), (600, 700)] {
            assert!(db.record_piece(span(s.id, start, end), None).await.unwrap());
        }
        // Over the start of a piece, inside one, reaching back into the
        // last one that starts before it, covering one whole, and an
        // empty piece where one starts: each overlaps.
        for (start, end) in [(50, 150), (120, 130), (240, 300), (590, 710), (600, 600), (0, 0)] {
            let recorded = db.record_piece(span(s.id, start, end), None).await.unwrap();
            assert!(!recorded, "{start}..{end} overlaps a recorded piece");
        }
        // Touching a piece at either end, or in a gap, does not.
        for (start, end) in [(250, 400), (500, 600), (700, 1000), (400, 400)] {
            let recorded = db.record_piece(span(s.id, start, end), None).await.unwrap();
            assert!(recorded, "{start}..{end} fits");
        }
        let pieces = db.pieces(s.id).await.unwrap();
        let spans: Vec<(i64, i64)> =
            pieces.iter().map(|p| (p.start_offset, p.end_offset)).collect();
        assert_eq!(
            spans,
            [(0, 100), (100, 250), (250, 400), (400, 400), (500, 600), (600, 700), (700, 1000)]
        );
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_a_piece_overlapping_a_recorded_one_is_not_recorded() {
        a_piece_overlapping_a_recorded_one_is_not_recorded(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_a_piece_overlapping_a_recorded_one_is_not_recorded() {
        a_piece_overlapping_a_recorded_one_is_not_recorded(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn a_request_dropped_while_its_write_waits_takes_it_and_its_hold_away() {
        let t = TestDb::new(Backend::Sqlite).await;
        let db = t.db.clone();
        let s = session(&db, 800).await;
        let turn = db.write_turn().await;
        let dropped = Arc::new(AtomicBool::new(false));
        let hold: Hold = Box::new(Flag(dropped.clone()));
        let waiting = db.record_piece(piece(s.id, 0, "k"), Some(hold));
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(50), waiting).await;
        assert!(gave_up.is_err(), "the write waited for the turn");
        assert!(dropped.load(Ordering::SeqCst), "the hold went with the request");
        assert_eq!(db.commits.queued(), 0, "the write left the queue");
        drop(turn);
        assert!(db.pieces(s.id).await.unwrap().is_empty(), "nothing was recorded");
        // The next write goes through as usual.
        assert!(db.record_piece(piece(s.id, 0, "k"), None).await.unwrap());
        t.cleanup().await;
    }
}
