-- tus concatenation. A partial upload (concat = 'partial') holds bytes for
-- a final upload and never becomes a file itself; concat_final names the
-- final that claimed it and concat_position its place there. A final
-- (concat = 'final', 'stitched' once done) takes over its partials' piece
-- rows, shifted to its own offsets, once every partial is stored: the
-- bytes are not copied, so a blob may be named by a piece row of another
-- session than the one that wrote it (the leftover sweep asks by key).
alter table upload_sessions add column concat text;
alter table upload_sessions add column concat_final bigint;
alter table upload_sessions add column concat_position integer;
create index upload_sessions_concat_final on upload_sessions (concat_final) where concat_final is not null;
create index upload_pieces_blob_key on upload_pieces (blob_key);
