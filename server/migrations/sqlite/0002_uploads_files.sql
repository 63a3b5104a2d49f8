-- Secrets every node shares, such as the key that signs part and download
-- URLs. Inserted once by whichever node starts first.
create table server_secrets (
    name text primary key,
    value text not null
);

-- The "user" a token acts as, shown in created_by/updated_by. Null means
-- the token itself (its id); widget tokens carry their issuer's.
alter table api_tokens add column user_id integer;

create table files (
    id integer primary key autoincrement,
    uuid text not null unique,
    account_id integer not null references accounts (id) on delete cascade,
    -- the full name, extension included; the API shows it split
    name text not null,
    -- the version that downloads and listings show; set when a version lands
    active_version_id integer,
    source_id integer,
    created_at integer not null,
    updated_at integer not null,
    created_by integer,
    updated_by integer,
    deleted_at integer,
    deleted_by integer
);
-- every listing is per account, newest first by default
create index files_account_created on files (account_id, created_at);

create table file_versions (
    id integer primary key autoincrement,
    uuid text not null unique,
    file_id integer not null references files (id) on delete cascade,
    account_id integer not null references accounts (id) on delete cascade,
    name text not null,
    size integer not null,
    mime_type text not null,
    sha256 text not null,
    -- the bytes are the parts of the session that uploaded this version
    -- (upload_parts by session_id), each part_size bytes but the last
    part_size integer not null,
    session_id integer not null,
    created_at integer not null,
    created_by integer
);
-- versions of one file, newest first
create index file_versions_file on file_versions (file_id, id);

create table upload_sessions (
    id integer primary key autoincrement,
    account_id integer not null references accounts (id) on delete cascade,
    file_name text not null,
    file_size integer not null,
    mime_type text not null,
    part_size integer not null,
    -- a new version of this file; null uploads a new file
    target_file_id integer references files (id) on delete cascade,
    with_preview integer not null default 0,
    -- the whole-file digest the client promised, if any
    expected_sha256 text,
    -- uploading | completed | cancelled; "expired" is derived from expires_at
    status text not null,
    file_id integer,
    version_id integer,
    created_by integer,
    created_at integer not null,
    expires_at integer not null
);
-- the sweeper looks for unfinished sessions past their expiry
create index upload_sessions_expiry on upload_sessions (status, expires_at);
-- "list my unfinished sessions"
create index upload_sessions_account on upload_sessions (account_id, status);

create table upload_parts (
    session_id integer not null references upload_sessions (id) on delete cascade,
    part_number integer not null,
    size integer not null,
    -- sha-256 state of the whole upload after this part (domain::digest):
    -- resumes the digest on any node and identifies the part's bytes
    digest_state blob not null,
    blob_key text not null,
    created_at integer not null,
    -- a part is stored once, across processes: a racing writer hits this key;
    -- the next expected part is one past the highest stored
    primary key (session_id, part_number)
);

-- Previews of image versions uploaded with with_preview, one per size.
create table file_previews (
    version_id integer not null references file_versions (id) on delete cascade,
    width integer not null,
    height integer not null,
    mime_type text not null,
    blob_key text not null,
    primary key (version_id, width)
);
