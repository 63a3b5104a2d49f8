-- When a session completed, in unix seconds: its URLs still answer an
-- identical replay for a short grace after it, then refuse. Null on
-- sessions that completed before this column existed (long ended).
alter table upload_sessions add column completed_at integer;
-- Token lifecycle: a revoked token stops working at once; its row stays
-- for the list. last_used_at is kept to the minute.
alter table api_tokens add column revoked_at integer;
alter table api_tokens add column last_used_at integer;
