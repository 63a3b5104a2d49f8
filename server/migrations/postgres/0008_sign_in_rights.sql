-- What a signed-in browser may do. A sign-in link made with
-- `satchel login-link --no-delete` opens a session that may read, upload
-- and edit but not move files to the trash (the pages' API calls then
-- lack the `files_delete` scope). The session inherits it from its link.
-- 1 or 0, as `with_preview` is.
alter table login_links add column may_delete bigint not null default 1;
alter table web_sessions add column may_delete bigint not null default 1;
