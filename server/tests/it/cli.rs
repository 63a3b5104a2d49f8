//! The `satchel` binary as an operator runs it: `token create` prints one
//! line, unusable settings stop start-up with one clear line, and `serve`
//! answers on a real socket and stops cleanly on SIGTERM.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use satchel::{
    domain::Scope,
    store::Db,
    testing::{Backend, TestDb},
};

fn satchel() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_satchel"));
    // The test command exports DATABASE_URL for PostgreSQL; these tests
    // choose their database explicitly.
    cmd.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("satchel runs")
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr).lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn token_create_prints_exactly_one_line_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(satchel()
        .args(["token", "create", "--scopes", "files,crm", "--account", "acme", "--data-dir"])
        .arg(&data));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.ends_with('\n'));
    let token = stdout.trim_end();
    assert!(token.starts_with("sat_"));

    // The token is in the data dir's database, for that account, with those scopes.
    let db = Db::connect(&format!("sqlite://{}/satchel.db", data.display())).await.unwrap();
    let grant = db.find_grant(token).await.unwrap().expect("token stored");
    assert_eq!(grant.account, db.ensure_account("acme").await.unwrap());
    assert!(grant.scopes.contains(Scope::Crm) && !grant.scopes.contains(Scope::FilesDelete));
    db.close().await;
}

/// `token create --expires`, `token list` and `token revoke`, as an
/// operator runs them against one data dir.
#[tokio::test]
async fn tokens_are_listed_expire_and_are_revoked_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let create = |account: &str, extra: &[&str]| {
        let out = run(satchel()
            .args(["token", "create", "--scopes", "files", "--account", account])
            .args(extra)
            .arg("--data-dir")
            .arg(&data));
        assert!(out.status.success(), "{:?}", stderr_lines(&out));
        let id = stderr_lines(&out).last().unwrap().strip_prefix("token ").unwrap().to_owned();
        (id, String::from_utf8(out.stdout).unwrap().trim_end().to_owned())
    };
    let (kept_id, kept) = create("acme", &["--expires", "30d"]);
    let (gone_id, gone) = create("globex", &[]);
    let list = |extra: &[&str]| {
        let out = run(satchel().args(["token", "list"]).args(extra).arg("--data-dir").arg(&data));
        assert!(out.status.success(), "{:?}", stderr_lines(&out));
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let lines = list(&[]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(&first[..3], &[kept_id.as_str(), "acme", "files"], "{lines:?}");
    let in_30_days = satchel::store::now_unix() + 30 * 86400;
    let year = chrono::DateTime::from_timestamp(in_30_days, 0).unwrap().format("expires %Y-");
    assert!(first[4].starts_with(&year.to_string()), "{lines:?}");
    assert_eq!(first[5], "last used never");
    assert!(lines[1].starts_with(&format!("{gone_id}\tglobex\tfiles\t")), "{lines:?}");
    assert!(lines[1].contains("expires never"), "{lines:?}");
    assert_eq!(list(&["--account", "globex"]).len(), 1);

    // A server that is running refuses the revoked token from its next
    // request on; the other keeps working.
    let db = Db::connect(&format!("sqlite://{}/satchel.db", data.display())).await.unwrap();
    assert!(db.find_grant(&gone).await.unwrap().is_some());
    let out = run(satchel().args(["token", "revoke", &gone_id, "--data-dir"]).arg(&data));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("revoked token {gone_id}"));
    assert_eq!(db.find_grant(&gone).await.unwrap(), None);
    assert!(db.find_grant(&kept).await.unwrap().is_some());
    assert_eq!(list(&[]).len(), 1);
    // Revoking it again, or an id never issued, fails with one line.
    for id in [gone_id.as_str(), "999"] {
        let out = run(satchel().args(["token", "revoke", id, "--data-dir"]).arg(&data));
        assert!(!out.status.success());
        assert_eq!(stderr_lines(&out).len(), 1, "{:?}", stderr_lines(&out));
    }
    db.close().await;
}

#[tokio::test]
async fn token_create_writes_to_postgres_when_given_its_url() {
    let t = TestDb::new(Backend::Postgres).await;
    let url = satchel::testing::postgres_url_of(&t);
    let out = run(satchel().args(["token", "create", "--scopes", "files", "--database-url", &url]));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim_end().to_owned();
    let grant = t.db.find_grant(&token).await.unwrap().expect("stored in postgres");
    assert_eq!(grant.account, t.db.ensure_account("default").await.unwrap(), "default account");
    t.cleanup().await;
}

#[test]
fn unusable_settings_stop_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let data = dir.path().join("data");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["serve".into(), "--data-dir".into(), file.join("sub").display().to_string()],
            "cannot use data dir",
        ),
        (
            vec![
                "serve".into(),
                "--data-dir".into(),
                data.display().to_string(),
                "--database-url".into(),
                "mysql://x/y".into(),
            ],
            "neither sqlite:// nor postgres://",
        ),
        (
            vec![
                "serve".into(),
                "--data-dir".into(),
                data.display().to_string(),
                "--database-url".into(),
                "postgres://nobody:pw@127.0.0.1:1/none".into(),
            ],
            "cannot open database postgres://nobody:***@127.0.0.1:1/none",
        ),
        (
            vec![
                "serve".into(),
                "--data-dir".into(),
                data.display().to_string(),
                "--storage-url".into(),
                "ftp://x".into(),
            ],
            "neither file://DIR nor s3://",
        ),
        (
            vec![
                "serve".into(),
                "--data-dir".into(),
                data.display().to_string(),
                "--storage-url".into(),
                format!("file://{}/blobs", file.display()),
            ],
            "cannot",
        ),
    ];
    for (args, expected) in cases {
        let out = run(satchel().args(&args).env("SATCHEL_LISTEN", "127.0.0.1:0"));
        let lines = stderr_lines(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {lines:?}");
        assert!(
            lines[0].starts_with("satchel: ") && lines[0].contains(expected),
            "{args:?}: {lines:?}"
        );
        assert!(!lines[0].contains("panicked"));
    }
}

#[test]
fn bad_flag_values_are_refused_before_anything_starts() {
    for args in [
        vec!["--listen", "nowhere"],
        vec!["--session-ttl", "soon"],
        vec!["--max-part-size", "100"],
        vec!["token", "create", "--scopes", "admin"],
    ] {
        let out = run(satchel().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error: invalid value"), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Starts `satchel serve` on a free port with these extra flags; the
/// child and its port, once it answers.
fn serving(dir: &std::path::Path, extra: &[&str]) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = satchel()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(port, "/healthz").is_err() {
        assert!(Instant::now() < deadline, "satchel did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

/// How long until the server closes a connection that sent `sent`, or
/// `None` if it was still open after `patience`.
fn closed_after(port: u16, sent: &[u8], patience: Duration) -> Option<Duration> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(sent).unwrap();
    stream.set_read_timeout(Some(patience)).unwrap();
    let started = Instant::now();
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => Some(started.elapsed()),
        Err(_) => None,
    }
}

#[test]
fn slow_and_idle_connections_are_closed_and_their_number_capped() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--header-read-timeout", "1s", "--max-connections", "2"];
    let (mut child, port) = serving(dir.path(), &flags);
    // Headers that never end: closed after the header timeout.
    let half = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";
    let closed = closed_after(port, half, Duration::from_secs(10)).expect("closed");
    assert!(closed < Duration::from_secs(5), "{closed:?}");
    // A kept-alive connection that sends nothing more: closed as well.
    let answered = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let idle = closed_after(port, answered, Duration::from_secs(10)).expect("closed when idle");
    assert!(idle < Duration::from_secs(5), "{idle:?}");

    // A connection that sends nothing at all: closed too.
    let silent = closed_after(port, b"", Duration::from_secs(10)).expect("closed when silent");
    assert!(silent < Duration::from_secs(5), "{silent:?}");

    // Two connections hold the two places; a third waits for one of them
    // (they are closed after a second of silence).
    let holders: Vec<TcpStream> =
        (0..2).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let answer = http_get(port, "/healthz").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "answered at once: {waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    drop(holders);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Without a flag, a connection that sends half its headers is closed
/// after the default 30 s, not kept for ever.
#[test]
fn the_header_timeout_is_on_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serving(dir.path(), &[]);
    let half = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";
    let closed = closed_after(port, half, Duration::from_secs(45)).expect("closed within 45 s");
    assert!(closed >= Duration::from_secs(25), "{closed:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_answers_on_its_socket_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = satchel()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first start on an empty database prints a sign-in link.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let prefix = format!("Sign in to Satchel's pages: http://127.0.0.1:{port}/login/sat_");
    assert!(first.starts_with(&prefix), "{first}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        match http_get(port, "/healthz") {
            Ok(a) => break a,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("satchel did not listen: {e}"),
        }
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""database":"sqlite""#));
    assert!(dir.path().join("data/satchel.db").is_file(), "sqlite created in the data dir");
    assert!(dir.path().join("data/blobs").is_dir(), "blob dir created");
    let link_path = &first.trim()[first.find("/login/").unwrap()..];
    let signed_in = http_get(port, link_path).unwrap();
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    assert!(signed_in.contains("set-cookie: satchel_session=sat_"), "{signed_in}");
    assert!(http_get(port, link_path).unwrap().starts_with("HTTP/1.1 410"), "once only");
    // `login-link` makes another, alone on one line.
    let out = run(satchel()
        .args(["login-link", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data")));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let link = printed.trim();
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/login/sat_")), "{link}");
    let fresh = http_get(port, &link[link.find("/login/").unwrap()..]).unwrap();
    assert!(fresh.starts_with("HTTP/1.1 303"), "{fresh}");
    // `demo-seed` needs the blob directory, which the running server
    // holds: it says so in one line.
    let busy = run(satchel().args(["demo-seed", "--data-dir"]).arg(dir.path().join("data")));
    assert!(!busy.status.success());
    assert_eq!(stderr_lines(&busy).len(), 1, "{:?}", stderr_lines(&busy));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "satchel did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");

    // Stopped: demo-seed fills the default account once.
    let seeded = run(satchel().args(["demo-seed", "--data-dir"]).arg(dir.path().join("data")));
    assert!(seeded.status.success(), "{:?}", stderr_lines(&seeded));
    let said = String::from_utf8(seeded.stdout).unwrap();
    assert_eq!(said.trim(), "Seeded account default: 3 entities, 6 files, 6 notes");
    let again = run(satchel().args(["demo-seed", "--data-dir"]).arg(dir.path().join("data")));
    let said = String::from_utf8(again.stdout).unwrap();
    assert_eq!(said.trim(), "Account default already holds data; nothing was seeded");
}

/// Two stored versions of different files, damaged: the first has one
/// byte flipped, the second's blob is gone. `blob_path` maps a blob key
/// to the file that holds it. Returns the two files' uuids.
async fn damage_two_versions(
    db: &Db,
    blob_path: impl Fn(&str) -> std::path::PathBuf,
) -> (String, String) {
    let versions = db.stored_versions(None).await.unwrap();
    let mut picked = versions.iter().filter(|v| v.size > 0);
    let flipped = picked.next().expect("a stored version").clone();
    let gone = picked.find(|v| v.file_uuid != flipped.file_uuid).expect("another file").clone();
    let first_piece = |version_id: i64| async move {
        let version = db.version_by_id(version_id).await.unwrap().unwrap();
        db.pieces(version.session_id).await.unwrap().remove(0)
    };
    let piece = first_piece(flipped.version_id).await;
    let path = blob_path(&piece.blob_key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[piece.blob_offset as usize] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let piece = first_piece(gone.version_id).await;
    std::fs::remove_file(blob_path(&piece.blob_key)).unwrap();
    (flipped.file_uuid, gone.file_uuid)
}

/// `satchel verify` over what `demo-seed` stored: clean at first, then
/// a flipped byte and a missing blob are each reported with the account,
/// file and version, and the exit status says so.
async fn verify_finds_a_flipped_byte_and_a_missing_blob(
    store: &Store,
    db: &Db,
    blob_path: impl Fn(&str) -> std::path::PathBuf,
) {
    let seed = run(&mut store.command(&["demo-seed"]));
    assert!(seed.status.success(), "{:?}", stderr_lines(&seed));
    let versions = db.stored_versions(None).await.unwrap();
    assert!(versions.len() >= 4, "{versions:?}");

    let clean = run(&mut store.command(&["verify"]));
    assert!(clean.status.success(), "{:?}", stderr_lines(&clean));
    let said = String::from_utf8(clean.stdout).unwrap();
    assert_eq!(
        said.trim_end(),
        format!(
            "{} versions ({} bytes) read back: 0 faults",
            versions.len(),
            versions.iter().map(|v| v.size).sum::<i64>()
        )
    );

    let (flipped, gone) = damage_two_versions(db, blob_path).await;
    let out = run(&mut store.command(&["verify"]));
    assert!(!out.status.success());
    let lines: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let line_of = |uuid: &str| lines.iter().find(|l| l.contains(uuid)).cloned().unwrap();
    let flipped_line = line_of(&flipped);
    assert!(flipped_line.starts_with("account default file "), "{flipped_line}");
    assert!(
        flipped_line.contains(" version ") && flipped_line.contains("SHA-256"),
        "{flipped_line}"
    );
    assert!(line_of(&gone).contains("is missing"), "{lines:?}");
    let stderr = stderr_lines(&out).join("\n");
    assert!(stderr.contains(&format!("{} versions", versions.len())), "{stderr}");
    assert!(stderr.contains(": 2 faults"), "{stderr}");

    // Another account has none of them; a sample reads only some.
    let other = run(&mut store.command(&["verify", "--account", "nobody"]));
    assert!(other.status.success(), "{:?}", stderr_lines(&other));
    assert!(String::from_utf8(other.stdout).unwrap().starts_with("0 versions (0 bytes)"));
    let bad = run(&mut store.command(&["verify", "--sample", "0%"]));
    assert!(!bad.status.success());
    assert!(stderr_lines(&bad).join(" ").contains("at most 100%"), "{:?}", stderr_lines(&bad));
}

/// The flags and environment that point a command at one store.
struct Store {
    args: Vec<String>,
    envs: Vec<(&'static str, String)>,
}

impl Store {
    fn command(&self, words: &[&str]) -> Command {
        let mut cmd = satchel();
        cmd.args(words).args(&self.args).envs(self.envs.iter().cloned());
        cmd
    }
}

#[tokio::test]
async fn verify_reads_local_disk_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = Store { args: vec!["--data-dir".into(), data.display().to_string()], envs: vec![] };
    // The database exists once demo-seed has run; connect after it.
    let seed = run(&mut store.command(&["demo-seed"]));
    assert!(seed.status.success(), "{:?}", stderr_lines(&seed));
    let db = Db::connect(&format!("sqlite://{}/satchel.db", data.display())).await.unwrap();
    let blobs = data.join("blobs");
    verify_finds_a_flipped_byte_and_a_missing_blob(&store, &db, |key| blobs.join(key)).await;

    // A preview whose blob is gone is reported; --repair-index takes it
    // out of the index, and only it.
    let version = db.stored_versions(None).await.unwrap()[0].version_id;
    let preview = satchel::store::files::PreviewRecord {
        version_id: version,
        width: 64,
        height: 48,
        mime_type: "image/png".into(),
        blob_key: "previews/gone-64".into(),
    };
    db.add_preview(&preview).await.unwrap();
    let lines = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let reported = run(&mut store.command(&["verify"]));
    let said = lines(&reported);
    assert!(said.contains("preview 64 (blob previews/gone-64) is missing or empty\n"), "{said}");
    assert_eq!(db.previews(version).await.unwrap().len(), 1, "verify alone changes nothing");
    let repaired = run(&mut store.command(&["verify", "--repair-index"]));
    assert!(!repaired.status.success(), "the faults are still reported");
    assert!(lines(&repaired).contains("is missing or empty; removed from the index"));
    assert!(db.previews(version).await.unwrap().is_empty());
    let after = lines(&run(&mut store.command(&["verify"])));
    assert!(!after.contains("preview"), "{after}");
    db.close().await;
}

#[tokio::test]
async fn verify_reads_s3_back_with_postgres() {
    let t = TestDb::new(Backend::Postgres).await;
    let url = satchel::testing::postgres_url_of(&t);
    let s3 = satchel::testing::S3Server::start();
    let storage = format!("s3://{}/verify", s3.bucket);
    let data = t.dir().join("data");
    let store = Store {
        args: ["--database-url", &url, "--storage-url", &storage, "--data-dir"]
            .into_iter()
            .map(String::from)
            .chain([data.display().to_string()])
            .collect(),
        envs: s3.env(),
    };
    let objects = s3.root().join(&s3.bucket).join("verify");
    verify_finds_a_flipped_byte_and_a_missing_blob(&store, &t.db, |key| objects.join(key)).await;
    t.cleanup().await;
}

/// Sends one HTTP/1.1 request with a JSON body on a new connection and
/// reads the whole answer.
fn http_json(port: u16, method: &str, path: &str, token: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn json_of(answer: &str) -> serde_json::Value {
    serde_json::from_str(&answer[answer.find("\r\n\r\n").unwrap() + 4..]).unwrap()
}

/// The path of an absolute URL the server handed out.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    &rest[rest.find('/').unwrap_or(rest.len())..]
}

/// SIGTERM while a part is arriving: the server stops accepting at once,
/// closes idle connections, lets the part finish and answers it, then
/// exits; the part is there after a restart. A part that does not finish
/// within `--shutdown-grace` does not hold the exit.
#[test]
fn sigterm_lets_parts_in_flight_finish_and_answers_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(satchel()
        .args(["token", "create", "--scopes", "files", "--data-dir"])
        .arg(dir.path().join("data")));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (mut child, port) = serving(dir.path(), &["--shutdown-grace", "20s"]);
    let size = 3 * 524_288;
    let opened = http_json(
        port,
        "POST",
        "/v1.0/sessions",
        &token,
        &format!(r#"{{"file_name":"drain.bin","file_size":{size}}}"#),
    );
    assert!(opened.starts_with("HTTP/1.1 200"), "{opened}");
    let session = json_of(&opened);
    let part_size = session["max_part_size"].as_u64().unwrap() as usize;
    let upload = path_of(session["upload_url"].as_str().unwrap()).to_owned();

    // A kept-alive idle connection, and a part half sent.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let body: Vec<u8> = (0..part_size).map(|i| (i % 251) as u8).collect();
    let mut part = TcpStream::connect(("127.0.0.1", port)).unwrap();
    part.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        part,
        "POST {upload} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {part_size}\r\n\r\n"
    )
    .unwrap();
    part.write_all(&body[..part_size / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // SAFETY: kill sends a signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    assert!(child.try_wait().unwrap().is_none(), "exited with a part in flight");

    std::thread::sleep(Duration::from_millis(500));
    part.write_all(&body[part_size / 2..]).unwrap();
    let mut answer = String::new();
    part.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let next = json_of(&answer)["next_url"].as_str().unwrap().to_owned();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // After a restart the part is stored: the resume point is past it.
    let (mut child, port) = serving(dir.path(), &["--shutdown-grace", "1s"]);
    let resume = http_get(port, &upload).unwrap();
    assert!(resume.starts_with("HTTP/1.1 200"), "{resume}");
    let resume = json_of(&resume);
    assert_eq!(resume["received"].as_u64(), Some(part_size as u64), "{resume}");
    assert_eq!(resume["next_url"].as_str().map(path_of), Some(path_of(&next)), "{resume}");

    // A part that stalls past the grace period does not hold the exit.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let next = path_of(&next).to_owned();
    write!(
        stalled,
        "POST {next} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {part_size}\r\n\r\nabc"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stopped = Instant::now();
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let took = stopped.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "{took:?}");
}

/// POSTs raw bytes on a new connection and reads the whole answer.
fn http_post_bytes(port: u16, path: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Uploads one file of `size` bytes part by part; true once it is a file.
fn upload_over_http(port: u16, token: &str, name: &str, size: usize, seed: u8) -> bool {
    let opened = http_json(
        port,
        "POST",
        "/v1.0/sessions",
        token,
        &format!(r#"{{"file_name":"{name}","file_size":{size}}}"#),
    );
    if !opened.starts_with("HTTP/1.1 200") {
        return false;
    }
    let session = json_of(&opened);
    let part = session["max_part_size"].as_u64().unwrap() as usize;
    let bytes: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(seed) ^ seed).collect();
    let mut url = path_of(session["upload_url"].as_str().unwrap()).to_owned();
    for chunk in bytes.chunks(part) {
        let answer = http_post_bytes(port, &url, chunk);
        if answer.starts_with("HTTP/1.1 200") {
            return true;
        }
        if !answer.starts_with("HTTP/1.1 202") {
            return false;
        }
        url = path_of(json_of(&answer)["next_url"].as_str().unwrap()).to_owned();
    }
    false
}

/// `satchel backup` while uploads keep arriving, `restore` into another
/// data directory, and `verify` finds every restored version whole.
#[test]
fn a_backup_under_upload_load_restores_elsewhere_and_verifies_clean() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out =
        run(satchel().args(["token", "create", "--scopes", "files", "--data-dir"]).arg(&data));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (mut server, port) = serving(dir.path(), &[]);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let uploaders: Vec<_> = (0..2u8)
        .map(|n| {
            let (stop, done, token) = (stop.clone(), done.clone(), token.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let size = 300_000 + (i as usize % 7) * 150_000;
                    if upload_over_http(port, &token, &format!("f{n}-{i}.bin"), size, n * 50 + 3) {
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(std::sync::atomic::Ordering::Relaxed) < 4 {
        assert!(Instant::now() < deadline, "uploads did not get going");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = done.load(std::sync::atomic::Ordering::Relaxed);
    let backup_dir = dir.path().join("backup");
    let backed = run(satchel().arg("backup").arg(&backup_dir).arg("--data-dir").arg(&data));
    assert!(backed.status.success(), "{:?}", stderr_lines(&backed));
    let said = String::from_utf8(backed.stdout).unwrap();
    assert!(said.starts_with("backed up the database and "), "{said}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for uploader in uploaders {
        uploader.join().unwrap();
    }
    // SAFETY: kill sends a signal to the child this test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    server.wait().unwrap();
    let after = done.load(std::sync::atomic::Ordering::Relaxed);
    assert!(after > before, "uploads went on during the backup ({before} then {after})");

    let restored = dir.path().join("restored");
    let out = run(satchel().arg("restore").arg(&backup_dir).arg("--data-dir").arg(&restored));
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    let verified = run(satchel().arg("verify").arg("--data-dir").arg(&restored));
    assert!(verified.status.success(), "{:?}", stderr_lines(&verified));
    let summary = String::from_utf8(verified.stdout).unwrap();
    let versions: u64 = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(versions >= before && versions <= after, "{summary} ({before}..={after} uploaded)");
    assert!(summary.trim_end().ends_with(": 0 faults"), "{summary}");

    // Neither command overwrites.
    let again = run(satchel().arg("restore").arg(&backup_dir).arg("--data-dir").arg(&restored));
    assert!(!again.status.success());
    assert!(stderr_lines(&again).join(" ").contains("already holds a database"));
    let into_full = run(satchel().arg("backup").arg(&backup_dir).arg("--data-dir").arg(&data));
    assert!(!into_full.status.success());
    assert!(stderr_lines(&into_full).join(" ").contains("is not empty"));
}

/// `migrate-storage` from local disk to S3, stopped partway and with one
/// copy damaged, then run again to the end; and back to local disk.
/// `verify` reads every version whole from each new store.
#[tokio::test]
async fn migrate_storage_goes_to_s3_and_back_and_goes_on_after_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = run(satchel().arg("demo-seed").arg("--data-dir").arg(&data));
    assert!(seed.status.success(), "{:?}", stderr_lines(&seed));
    let db = Db::connect(&format!("sqlite://{}/satchel.db", data.display())).await.unwrap();
    let total = db.referenced_blobs().await.unwrap().len();
    db.close().await;
    assert!(total >= 5, "{total} blobs");
    let s3 = satchel::testing::S3Server::start();
    let to = format!("s3://{}/moved", s3.bucket);
    let with_store = |words: &[&str], storage: Option<&str>| {
        let mut cmd = satchel();
        cmd.args(words).arg("--data-dir").arg(&data).envs(s3.env());
        if let Some(url) = storage {
            cmd.args(["--storage-url", url]);
        }
        let out = run(&mut cmd);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), said, stderr_lines(&out).join("\n"))
    };

    let (ok, said, err) = with_store(&["migrate-storage", "--to", &to, "--max-blobs", "2"], None);
    assert!(ok, "{err}");
    assert!(said.starts_with("copied 2 blobs") && said.contains("left: run this again"), "{said}");
    // One copy damaged, as a failing disk or a stray write would.
    let copies: Vec<_> = walk(&s3.root().join(&s3.bucket).join("moved"));
    assert_eq!(copies.len(), 2, "{copies:?}");
    let mut bytes = std::fs::read(&copies[0]).unwrap();
    if bytes.is_empty() {
        bytes.push(1);
    } else {
        bytes[0] ^= 0xff;
    }
    std::fs::write(&copies[0], bytes).unwrap();

    let (ok, said, err) = with_store(&["migrate-storage", "--to", &to], None);
    assert!(ok, "{err}");
    let expected = format!("copied {} blobs", total - 1);
    assert!(said.starts_with(&expected) && said.contains(", 1 were there already"), "{said}");
    assert!(said.contains("then start them with --storage-url"), "{said}");
    let (ok, said, err) = with_store(&["verify"], Some(&to));
    assert!(ok && said.trim_end().ends_with(": 0 faults"), "{said} {err}");

    let back = format!("file://{}", dir.path().join("back").display());
    let (ok, said, err) = with_store(&["migrate-storage", "--to", &back], Some(&to));
    assert!(ok, "{err}");
    assert!(said.starts_with(&format!("copied {total} blobs")), "{said}");
    let (ok, said, err) = with_store(&["verify"], Some(&back));
    assert!(ok && said.trim_end().ends_with(": 0 faults"), "{said} {err}");
    let (ok, _, err) = with_store(&["migrate-storage", "--to", &back], Some(&back));
    assert!(!ok && err.contains("already"), "{err}");
}

/// The files under `root`, depth first.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}
