-- The CRM side: leads, contacts and companies, their custom fields, their
-- notes and the files attached to them (the Media tab). Kept to what the
-- files features need.

-- The three entity types share one table; `entity_type` is leads,
-- contacts or companies. Ids are unique across the three.
create table entities (
    id integer primary key autoincrement,
    account_id integer not null references accounts (id) on delete cascade,
    entity_type text not null,
    name text not null,
    created_at integer not null,
    updated_at integer not null,
    created_by integer,
    updated_by integer
);
-- lists of one type, in id order
create index entities_account_type on entities (account_id, entity_type, id);

-- Field definitions per entity type; `field_type` is file or text.
create table custom_fields (
    id integer primary key autoincrement,
    account_id integer not null references accounts (id) on delete cascade,
    entity_type text not null,
    name text not null,
    field_type text not null,
    created_at integer not null
);
create index custom_fields_account_type on custom_fields (account_id, entity_type, id);

-- A field's values on one entity, in order. A file value names the file
-- and, when pinned, one version; without a version it follows the file's
-- active one. Purging a file removes the values that name it.
create table field_values (
    entity_id integer not null references entities (id) on delete cascade,
    field_id integer not null references custom_fields (id) on delete cascade,
    position integer not null,
    text_value text,
    file_id integer references files (id) on delete cascade,
    version_id integer references file_versions (id) on delete cascade,
    file_name text,
    primary key (entity_id, field_id, position)
);
-- what uses a file (the purge's cascade)
create index field_values_file on field_values (file_id);

-- Notes on an entity: common (text) or attachment (a file version).
create table notes (
    id integer primary key autoincrement,
    account_id integer not null references accounts (id) on delete cascade,
    entity_id integer not null references entities (id) on delete cascade,
    note_type text not null,
    text_value text,
    file_id integer references files (id) on delete cascade,
    version_id integer references file_versions (id) on delete cascade,
    file_name text,
    created_at integer not null,
    updated_at integer not null,
    created_by integer
);
-- an entity's feed, oldest first
create index notes_entity on notes (entity_id, created_at, id);
create index notes_file on notes (file_id);

-- Files attached to an entity: the Media tab. Attachment notes attach
-- their file too. One link per (entity, file).
create table entity_files (
    id integer primary key autoincrement,
    account_id integer not null references accounts (id) on delete cascade,
    entity_id integer not null references entities (id) on delete cascade,
    file_id integer not null references files (id) on delete cascade,
    created_at integer not null,
    created_by integer,
    unique (entity_id, file_id)
);
-- a file's links, and filter[term] on linked entity names
create index entity_files_file on entity_files (file_id);
