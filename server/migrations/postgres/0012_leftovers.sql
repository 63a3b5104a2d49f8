-- A session that takes no more bytes is looked over once for blobs that
-- no piece row names (bytes written but never recorded: a crash between
-- the two, or a request that lost a race and could not remove its own),
-- and those are deleted. 0 until that is done; the partial index keeps
-- the sweeper's look for them from reading every session ever made.
alter table upload_sessions add column leftovers_swept integer not null default 0;
create index upload_sessions_leftovers on upload_sessions (id) where leftovers_swept = 0;
