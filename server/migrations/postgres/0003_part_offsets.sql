-- Where a part's bytes start inside its blob. Stores that keep one blob
-- per part write 0; the local disk keeps a session's parts in one file,
-- part n at (n - 1) * part_size, so a download is one ranged read.
alter table upload_parts add column blob_offset bigint not null default 0;
