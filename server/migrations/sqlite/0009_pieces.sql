-- Parts are byte ranges of any length up to the part size: each stored
-- piece records where it starts and ends in the file. A piece is what one
-- request stored; a part cut off mid-body may leave a piece shorter than
-- the part, and the rest of that part arrives later as another piece.
create table upload_pieces (
    session_id integer not null references upload_sessions (id) on delete cascade,
    -- file offsets, half open: start_offset <= byte < end_offset
    start_offset integer not null,
    end_offset integer not null,
    -- the part number the piece arrived as (Kommo's chain counts parts)
    part_number integer not null,
    blob_key text not null,
    -- where the piece's first byte sits inside its blob
    blob_offset integer not null,
    created_at integer not null,
    -- two requests racing for one offset store it once; overlaps are
    -- refused by the insert itself, under the session's row lock
    primary key (session_id, start_offset)
);

-- The whole-file SHA-256 runs over the contiguous prefix of stored
-- pieces: digest_upto bytes are hashed, and digest_state is the hasher's
-- state after them (null before the first byte).
alter table upload_sessions add column digest_upto integer not null default 0;
alter table upload_sessions add column digest_state blob;

-- Every stored part becomes a piece at its offset (parts were part_size
-- bytes each but the last).
insert into upload_pieces
    (session_id, start_offset, end_offset, part_number, blob_key, blob_offset, created_at)
select p.session_id, (p.part_number - 1) * s.part_size,
       (p.part_number - 1) * s.part_size + p.size, p.part_number,
       p.blob_key, p.blob_offset, p.created_at
from upload_parts p join upload_sessions s on s.id = p.session_id;

update upload_sessions set
    digest_upto = coalesce((select max(q.end_offset) from upload_pieces q
                            where q.session_id = upload_sessions.id), 0),
    digest_state = (select p.digest_state from upload_parts p
                    where p.session_id = upload_sessions.id
                    order by p.part_number desc limit 1);

drop table upload_parts;
