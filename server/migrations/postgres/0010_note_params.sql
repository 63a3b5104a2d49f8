-- Notes of every type Kommo documents. `params` holds a note's params as
-- a JSON object (text, phone, duration, service, coordinates ...) for
-- every type but attachment, whose params come from its file and
-- version. `updated_by` is who edited the note last. Text rather than
-- jsonb: Satchel only stores and returns it, and SQLite reads the same.
alter table notes add column params text;
alter table notes add column updated_by bigint;

-- Notes written before held only common text and attachments.
update notes set params = json_build_object('text', coalesce(text_value, ''))::text
    where note_type = 'common';
update notes set updated_by = created_by;

-- the notes list of an entity type: filter[updated_at] and order[updated_at]
create index notes_account_updated on notes (account_id, updated_at, id);
