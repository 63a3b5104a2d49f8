-- filter[term] looks for a piece of a name anywhere in it. LIKE '%term%'
-- cannot use a b-tree index and would read every row of the account, so
-- a trigram index (FTS5, kept in step with `files` by triggers) answers
-- which files hold the piece, and the listing reads only those.
create virtual table files_name_trigrams using fts5(
    name, content = 'files', content_rowid = 'id', tokenize = 'trigram case_sensitive 0'
);
insert into files_name_trigrams (files_name_trigrams) values ('rebuild');
create trigger files_name_trigrams_insert after insert on files begin
    insert into files_name_trigrams (rowid, name) values (new.id, new.name);
end;
create trigger files_name_trigrams_delete after delete on files begin
    insert into files_name_trigrams (files_name_trigrams, rowid, name)
    values ('delete', old.id, old.name);
end;
create trigger files_name_trigrams_rename after update of name on files begin
    insert into files_name_trigrams (files_name_trigrams, rowid, name)
    values ('delete', old.id, old.name);
    insert into files_name_trigrams (rowid, name) values (new.id, new.name);
end;
