-- URL-signing keys: the newest signs, older ones verify what they signed
-- until it can no longer be alive (`satchel keys rotate` adds one). Key 0
-- is the secret every node signed with before keys had ids.
create table signing_keys (
    id integer primary key,
    secret text not null,
    -- unix seconds; the next key's created_at is when this one stopped signing
    created_at integer not null
);
insert into signing_keys (id, secret, created_at)
select 0, value, 0 from server_secrets where name = 'url_signing';
