-- Signing in to Satchel's pages. A sign-in link carries a one-time secret
-- (stored as its hash) that lives 15 minutes; using it opens a browser
-- session, whose cookie secret is also stored as a hash, with the token
-- that the pages' state-changing requests must send back (CSRF).
create table login_links (
    token_hash text primary key,
    account_id integer not null references accounts (id) on delete cascade,
    expires_at integer not null,
    used_at integer
);

create table web_sessions (
    token_hash text primary key,
    account_id integer not null references accounts (id) on delete cascade,
    csrf_token text not null,
    created_at integer not null,
    expires_at integer not null
);
-- the sweeper deletes expired sessions and links
create index web_sessions_expiry on web_sessions (expires_at);
create index login_links_expiry on login_links (expires_at);
