-- A version object carries Kommo's `source_id`, `updated_at` and
-- `updated_by`. A version changes only when it is made the active one
-- again (`PATCH /v1.0/files/{uuid}` with its `version_uuid`): then
-- `updated_at`/`updated_by` say when and by whom. Null means "not since
-- its upload", read as `created_at`/`created_by`, so rows written before
-- this migration, and the upload path, need no value. `source_id` is
-- where the version came from; Satchel has no sources, so it stays null.
alter table file_versions add column source_id bigint;
alter table file_versions add column updated_at bigint;
alter table file_versions add column updated_by bigint;
