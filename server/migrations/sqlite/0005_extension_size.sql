-- Two listing filters that few files pass read the whole account when the
-- values they test are computed per row:
--
-- * filter[extensions][] tested `lower(name) like '_%.pdf'`, which no
--   index serves. `extension` holds the lowercase extension the API shows
--   in `metadata.extension` (null when the name has none), written by the
--   server on insert and rename; the index on (account, extension,
--   created_at) finds one extension's files already in the default order.
-- * filter[size] and order[size] tested the active version's size through
--   a join. `size` copies it onto the file, written whenever the active
--   version changes; the index on (account, size) reads just the range.
alter table files add column extension text;
alter table files add column size integer not null default 0;

-- Existing rows: the extension is what follows the last dot, when both
-- sides of that dot are non-empty (as the server computes it).
-- rtrim(name, <every other character>) keeps the name up to its last dot.
-- SQLite's lower() folds ASCII only, so a non-ASCII extension of a row
-- written before this migration keeps its case; new rows fold fully.
update files set extension = case
    when length(rtrim(name, replace(name, '.', ''))) >= 2
     and length(rtrim(name, replace(name, '.', ''))) < length(name)
    then lower(substr(name, length(rtrim(name, replace(name, '.', ''))) + 1))
    end;
update files set size = coalesce(
    (select v.size from file_versions v where v.id = files.active_version_id), 0);

create index files_account_extension on files (account_id, extension, created_at);
create index files_account_size on files (account_id, size);
