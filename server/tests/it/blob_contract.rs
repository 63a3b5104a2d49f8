//! The blob store contract (see `satchel::blob::BlobStore`), run against
//! every backend: local disk, and S3 through a real S3-compatible server.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use satchel::{
    blob::{BlobKey, BlobStore, ByteRange, LocalDisk, PartLayout, S3Store},
    domain::digest::RunningDigest,
    testing::S3Server,
    Error,
};

fn key(k: &str) -> BlobKey {
    BlobKey::new(k).unwrap()
}

/// Deterministic bytes that differ at every offset a bug could confuse.
fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8).collect()
}

async fn read(
    store: &dyn BlobStore,
    k: &BlobKey,
    range: Option<ByteRange>,
) -> Result<Vec<u8>, Error> {
    let chunks: Vec<Bytes> = store.get(k, range).await?.try_collect().await?;
    Ok(chunks.concat())
}

async fn contract(store: Arc<dyn BlobStore>) {
    let s = store.as_ref();

    // Absent keys: NotFound on read, None for size, delete succeeds.
    let missing = key("never/written");
    assert!(matches!(read(s, &missing, None).await, Err(Error::NotFound("blob"))));
    assert_eq!(s.size(&missing).await.unwrap(), None);
    s.delete(&missing).await.unwrap();

    // A written blob reads back whole, and its size is known.
    let a = key("parts/1/000001");
    let body = pattern(3 * 1024 * 1024 + 17, 1);
    s.put(&a, body.clone()).await.unwrap();
    assert_eq!(s.size(&a).await.unwrap(), Some(body.len() as u64));
    assert_eq!(read(s, &a, None).await.unwrap(), body.as_ref());

    // Ranges: inside, clamped at the end, empty at the end, past the end.
    let mid = ByteRange::new(1000, 250_000).unwrap();
    assert_eq!(read(s, &a, Some(mid)).await.unwrap(), &body[1000..250_000]);
    let tail = ByteRange::new(body.len() as u64 - 5, body.len() as u64 + 100).unwrap();
    assert_eq!(read(s, &a, Some(tail)).await.unwrap(), &body[body.len() - 5..]);
    let at_end = ByteRange::new(body.len() as u64, body.len() as u64).unwrap();
    assert!(read(s, &a, Some(at_end)).await.unwrap().is_empty());
    let past = ByteRange::new(body.len() as u64 + 1, body.len() as u64 + 2).unwrap();
    assert!(matches!(read(s, &a, Some(past)).await, Err(Error::Validation(_))));

    // Idempotent: the same bytes again; then a replacement wins whole.
    s.put(&a, body.clone()).await.unwrap();
    assert_eq!(read(s, &a, None).await.unwrap(), body.as_ref());
    let replacement = pattern(10, 9);
    s.put(&a, replacement.clone()).await.unwrap();
    assert_eq!(read(s, &a, None).await.unwrap(), replacement.as_ref());

    // Neighbouring keys are independent; an empty blob is a blob.
    let b = key("parts/1/000002");
    let empty = key("parts/1/empty");
    s.put(&b, pattern(5, 3)).await.unwrap();
    s.put(&empty, Bytes::new()).await.unwrap();
    assert_eq!(s.size(&empty).await.unwrap(), Some(0));
    assert!(read(s, &empty, None).await.unwrap().is_empty());
    assert_eq!(read(s, &a, None).await.unwrap(), replacement.as_ref());

    // Racing writers of the same bytes both succeed, leaving one blob.
    let raced = key("parts/2/000001");
    let bytes = pattern(700_000, 7);
    let (x, y) = tokio::join!(s.put(&raced, bytes.clone()), s.put(&raced, bytes.clone()));
    x.unwrap();
    y.unwrap();
    assert_eq!(read(s, &raced, None).await.unwrap(), bytes.as_ref());

    // Hashing a range feeds exactly its bytes, after what was fed before;
    // a range the blob does not hold whole, or an absent blob, fails.
    let mut fed = RunningDigest::new();
    fed.update(b"before");
    let range = ByteRange::new(3, 200_003).unwrap();
    let fed = s.hash_range(&raced, range, fed).await.unwrap();
    let mut expected = RunningDigest::new();
    expected.update(b"before");
    expected.update(&bytes[3..200_003]);
    assert_eq!(fed.finish(), expected.finish());
    let whole = ByteRange::new(0, bytes.len() as u64).unwrap();
    let fed = s.hash_range(&raced, whole, RunningDigest::new()).await.unwrap();
    assert_eq!(fed.finish(), satchel::domain::digest::sha256(&bytes));
    let beyond = ByteRange::new(699_990, 700_010).unwrap();
    assert!(s.hash_range(&raced, beyond, RunningDigest::new()).await.is_err());
    let absent = s.hash_range(&missing, range, RunningDigest::new()).await;
    assert!(matches!(absent, Err(Error::NotFound("blob"))));

    // Listing a folder: every blob in it (and in its folders), nothing
    // beside it, even where a key only shares its first characters.
    s.put(&key("parts/1/deeper/000003"), pattern(3, 4)).await.unwrap();
    s.put(&key("parts/10/000001"), pattern(3, 5)).await.unwrap();
    let listed = |prefix: &'static str| async move {
        let mut keys: Vec<String> =
            s.list(&key(prefix)).await.unwrap().iter().map(|k| k.as_str().to_owned()).collect();
        keys.sort();
        keys
    };
    let in_one = ["parts/1/000001", "parts/1/000002", "parts/1/deeper/000003", "parts/1/empty"];
    assert_eq!(listed("parts/1").await, in_one);
    assert_eq!(listed("parts/10").await, ["parts/10/000001"]);
    assert!(listed("parts/3").await.is_empty(), "an absent folder lists empty");
    assert!(listed("parts/1/000001").await.is_empty(), "a blob is not a folder");

    // Delete removes, and deleting again still succeeds.
    s.delete(&a).await.unwrap();
    assert!(matches!(read(s, &a, None).await, Err(Error::NotFound("blob"))));
    s.delete(&a).await.unwrap();
    assert_eq!(read(s, &b, None).await.unwrap(), pattern(5, 3).as_ref());
    assert!(!listed("parts/1").await.contains(&"parts/1/000001".to_owned()), "deleted, unlisted");

    // A streamed put: many chunks (more than one multipart part on S3),
    // stored whole; a stream that fails leaves the old blob as it was.
    let streamed = key("uploads/streamed");
    let big = pattern(17 << 20, 9);
    let chunks: Vec<Result<Bytes, Error>> =
        big.chunks(1 << 20).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let stream = Box::pin(futures::stream::iter(chunks));
    assert_eq!(s.put_stream(&streamed, stream).await.unwrap(), big.len() as u64);
    assert_eq!(s.size(&streamed).await.unwrap(), Some(big.len() as u64));
    assert_eq!(
        read(s, &streamed, Some(ByteRange::new(9 << 20, (9 << 20) + 5).unwrap())).await.unwrap(),
        &big[9 << 20..(9 << 20) + 5]
    );
    let failing: Vec<Result<Bytes, Error>> =
        vec![Ok(pattern(10, 1)), Err(Error::Io(std::io::Error::other("cut")))];
    assert!(s.put_stream(&streamed, Box::pin(futures::stream::iter(failing))).await.is_err());
    assert_eq!(read(s, &streamed, None).await.unwrap(), big.as_ref());
    assert_eq!(
        s.put_stream(&key("uploads/nothing"), Box::pin(futures::stream::empty())).await.unwrap(),
        0
    );
    assert_eq!(s.size(&key("uploads/nothing")).await.unwrap(), Some(0));
}

#[tokio::test]
async fn local_disk_keeps_the_blob_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDisk::open(dir.path()).await.unwrap();
    contract(Arc::new(store)).await;
    // Every write went through a temporary file that was renamed away.
    let leftovers = std::fs::read_dir(dir.path().join(".tmp")).unwrap().count();
    assert_eq!(leftovers, 0, "no temporary files remain");
}

#[tokio::test]
async fn local_disk_never_serves_a_write_that_did_not_finish() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDisk::open(dir.path()).await.unwrap();
    // A crash mid-write leaves only a temporary file, which no key reaches.
    std::fs::write(dir.path().join(".tmp").join("half"), b"half a part").unwrap();
    assert!(BlobKey::new(".tmp/half").is_err());
    assert_eq!(store.size(&key("half")).await.unwrap(), None);
}

/// Writes `bytes` as one piece at `offset`, in chunks, and finishes it.
async fn write_piece(s: &dyn BlobStore, k: &BlobKey, offset: u64, bytes: &Bytes) -> u64 {
    let mut writer = s.piece_writer(k, offset).await.unwrap();
    for chunk in bytes.chunks(300) {
        writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    writer.finish().await.unwrap()
}

/// The in-place part of the contract, for stores whose layout is
/// `SessionBlob`.
async fn in_place_contract(s: &dyn BlobStore) {
    assert_eq!(s.part_layout(), PartLayout::SessionBlob);
    let k = key("uploads/41");
    // Written out of order, into a blob (and a directory) that did not
    // exist; a gap not yet written reads as zeros.
    let (p1, p2, p3) = (pattern(1000, 1), pattern(1000, 2), pattern(600, 3));
    assert_eq!(write_piece(s, &k, 2000, &p3).await, 600);
    assert_eq!(s.size(&k).await.unwrap(), Some(2600));
    assert_eq!(read(s, &k, Some(ByteRange::new(0, 2000).unwrap())).await.unwrap(), vec![0; 2000]);
    write_piece(s, &k, 0, &p1).await;
    write_piece(s, &k, 1000, &p2).await;
    assert_eq!(read(s, &k, None).await.unwrap(), [p1.as_ref(), &p2, &p3].concat());
    // Rewriting one range leaves its neighbours as they were.
    let other = pattern(1000, 9);
    write_piece(s, &k, 1000, &other).await;
    assert_eq!(read(s, &k, None).await.unwrap(), [p1.as_ref(), &other, &p3].concat());
    let middle = ByteRange::new(1000, 2000).unwrap();
    assert_eq!(read(s, &k, Some(middle)).await.unwrap(), other.as_ref());
    // A piece larger than a writer's batch arrives whole.
    let large = pattern(300 * 1024 + 7, 4);
    assert_eq!(write_piece(s, &k, 4096, &large).await, large.len() as u64);
    let expected = [&p1[..], &other, &p3, &[0; 4096 - 2600], &large].concat();
    assert_eq!(read(s, &k, None).await.unwrap(), expected);
    // A body cut off midway keeps what arrived.
    let mut cut = s.piece_writer(&k, 0).await.unwrap();
    cut.write(pattern(10, 5)).await.unwrap();
    assert_eq!(cut.keep_written().await.unwrap(), 10);
    assert_eq!(read(s, &k, Some(ByteRange::new(0, 10).unwrap())).await.unwrap(), pattern(10, 5));
    // Deleting the blob removes every range at once.
    s.delete(&k).await.unwrap();
    assert_eq!(s.size(&k).await.unwrap(), None);
}

#[tokio::test]
async fn local_disk_writes_parts_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDisk::open(dir.path()).await.unwrap();
    in_place_contract(&store).await;
}

#[tokio::test]
async fn local_disk_writes_in_place_on_tmpfs() {
    let shm = std::path::Path::new("/dev/shm");
    assert!(shm.is_dir(), "/dev/shm is a tmpfs on every Linux machine");
    let dir = tempfile::tempdir_in(shm).unwrap();
    let store = LocalDisk::open(dir.path()).await.unwrap();
    in_place_contract(&store).await;
}

#[tokio::test]
async fn local_disk_belongs_to_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalDisk::open(dir.path()).await.unwrap();
    let second = LocalDisk::open(dir.path()).await.expect_err("a second owner is refused");
    assert!(second.to_string().contains("in use by another satchel process"), "{second}");
    drop(first);
    LocalDisk::open(dir.path()).await.expect("free again once the owner is gone");
}

#[tokio::test]
async fn s3_keeps_the_blob_contract() {
    let server = S3Server::start();
    let url = format!("s3://{}/tenant-a", server.bucket);
    let store = S3Store::from_builder(&url, server.builder()).unwrap();
    // S3 keeps one object per piece, put whole when it is finished; a
    // piece cut off midway keeps nothing.
    assert_eq!(store.part_layout(), PartLayout::BlobPerPart);
    let piece = key("parts/9/000000000000-abc");
    let bytes = pattern(2000, 6);
    assert_eq!(write_piece(&store, &piece, 0, &bytes).await, 2000);
    assert_eq!(read(&store, &piece, None).await.unwrap(), bytes.as_ref());
    let cut_key = key("parts/9/000000002000-def");
    let mut cut = store.piece_writer(&cut_key, 0).await.unwrap();
    cut.write(pattern(10, 1)).await.unwrap();
    assert_eq!(cut.keep_written().await.unwrap(), 0);
    assert_eq!(store.size(&cut_key).await.unwrap(), None);
    contract(Arc::new(store)).await;
    // The prefix from the URL is where the objects landed.
    let prefixed = server.root().join(&server.bucket).join("tenant-a/parts/1/000002");
    assert!(prefixed.is_file(), "{} exists", prefixed.display());
}

#[tokio::test]
async fn opening_storage_proves_it_usable_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/blobs", dir.path().display());
    let store = satchel::blob::open(&url).await.unwrap();
    assert!(store.describe().starts_with("file://"));

    let bad_scheme = satchel::blob::open("ftp://example/x").await.err().unwrap();
    assert!(bad_scheme.to_string().contains("neither file://"), "{bad_scheme}");

    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let not_dir =
        satchel::blob::open(&format!("file://{}/blobs", file.display())).await.err().unwrap();
    assert!(not_dir.to_string().contains("cannot"), "{not_dir}");
}
