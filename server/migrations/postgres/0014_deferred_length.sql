-- tus creation-defer-length: an upload whose length the client learns
-- later. file_size holds the largest file allowed until the client names
-- the length (once), which may not be below the bytes already stored.
alter table upload_sessions add column length_deferred integer not null default 0;
