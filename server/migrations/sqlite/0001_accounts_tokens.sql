-- Accounts own everything; tokens grant an account some scopes.
create table accounts (
    id integer primary key autoincrement,
    name text not null unique,
    created_at integer not null
);

create table api_tokens (
    id integer primary key autoincrement,
    account_id integer not null references accounts (id) on delete cascade,
    -- sha-256 hex of the token; the token itself is never stored.
    -- unique: every authenticated request looks a token up by this column.
    token_hash text not null unique,
    -- comma-separated scope names: files, files_delete, crm
    scopes text not null,
    -- unix seconds; null for tokens that do not expire
    expires_at integer,
    created_at integer not null
);
