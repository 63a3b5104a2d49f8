-- filter[term] looks for a piece of a name anywhere in it. LIKE '%term%'
-- cannot use a b-tree index; a trigram index (pg_trgm, a trusted
-- extension that ships with PostgreSQL) answers it instead.
create extension if not exists pg_trgm;
create index files_name_trigrams on files using gin (lower(name) gin_trgm_ops);
