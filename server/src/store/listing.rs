//! `GET /v1.0/files`: one query built from a `ListQuery`, every value
//! bound as a parameter.

use super::{
    accounts::AccountId,
    files::{FileRecord, FILE_SELECT},
    Db, DbKind,
};
use crate::{
    domain::listing::{DateField, ListQuery, OrderField},
    error::Result,
};

/// A value bound to a `$n` placeholder.
enum Bind {
    Int(i64),
    Text(String),
}

/// The SQL text and its bound values, built together so the numbering of
/// the placeholders cannot drift.
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// Binds a value and returns its placeholder.
    fn arg(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn and(&mut self, condition: &str) {
        self.text.push_str(" and ");
        self.text.push_str(condition);
    }
}

/// `text` for a LIKE pattern, with its wildcards taken literally. Case is
/// folded in SQL, on both sides, so both fold alike (SQLite's `lower()`
/// folds only ASCII; PostgreSQL's folds every script).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl Db {
    /// The page of the account's files the query asks for, plus one more
    /// row when there is a next page.
    pub async fn list_files(&self, account: AccountId, q: &ListQuery) -> Result<Vec<FileRecord>> {
        let mut sql = Sql { text: format!("{FILE_SELECT} where f.account_id = "), binds: vec![] };
        let account_arg = sql.arg(Bind::Int(account.0));
        sql.text.push_str(&account_arg);
        sql.and(if q.deleted { "f.deleted_at is not null" } else { "f.deleted_at is null" });
        if !q.uuids.is_empty() {
            let args: Vec<String> =
                q.uuids.iter().map(|u| sql.arg(Bind::Text(u.clone()))).collect();
            sql.and(&format!("f.uuid in ({})", args.join(", ")));
        }
        if let Some(name) = &q.name {
            // The name as shown (without extension) or the whole name.
            let whole = sql.arg(Bind::Text(name.clone()));
            let with_ext = sql.arg(Bind::Text(format!("{}.%", escape_like(name))));
            let two_dots = sql.arg(Bind::Text(format!("{}.%.%", escape_like(name))));
            sql.and(&format!(
                "(lower(f.name) = lower({whole}) or (lower(f.name) like lower({with_ext}) escape '\\' \
                 and lower(f.name) not like lower({two_dots}) escape '\\'))"
            ));
        }
        if !q.extensions.is_empty() {
            // `files.extension` is kept lowercase (migration 0005).
            let args: Vec<String> =
                q.extensions.iter().map(|e| sql.arg(Bind::Text(e.clone()))).collect();
            sql.and(&format!("f.extension in ({})", args.join(", ")));
        }
        if let Some(term) = &q.term {
            let pattern = sql.arg(Bind::Text(format!("%{}%", escape_like(term))));
            let plain = !term.contains(['%', '_', '\\']);
            let by_name = if self.kind() == DbKind::Sqlite && plain && term.chars().count() >= 3 {
                // The trigram index (migration 0004) finds the few files
                // that hold the piece; LIKE on the table would read all.
                format!("f.id in (select rowid from files_name_trigrams where name like {pattern})")
            } else {
                // PostgreSQL's trigram index serves this LIKE directly.
                format!("lower(f.name) like lower({pattern}) escape '\\'")
            };
            // Or the name of an entity the file is attached to (the
            // account's entities are few beside its files).
            let account = sql.arg(Bind::Int(account.0));
            sql.and(&format!(
                "({by_name} or f.id in (select l.file_id from entity_files l \
                 join entities e on e.id = l.entity_id where e.account_id = {account} \
                 and lower(e.name) like lower({pattern}) escape '\\'))"
            ));
        }
        if let Some(source) = q.source_id {
            let arg = sql.arg(Bind::Int(source));
            sql.and(&format!("f.source_id = {arg}"));
        }
        if let Some(from) = q.size_from {
            let arg = sql.arg(Bind::Int(from.min(i64::MAX as u64) as i64));
            sql.and(&format!("f.size >= {arg}"));
        }
        if let Some(to) = q.size_to {
            let arg = sql.arg(Bind::Int(to.min(i64::MAX as u64) as i64));
            sql.and(&format!("f.size <= {arg}"));
        }
        if let Some(range) = q.date {
            let column = match range.field {
                DateField::CreatedAt => "f.created_at",
                DateField::UpdatedAt => "f.updated_at",
            };
            if let Some(from) = range.from {
                let arg = sql.arg(Bind::Int(from));
                sql.and(&format!("{column} >= {arg}"));
            }
            if let Some(to) = range.to {
                let arg = sql.arg(Bind::Int(to));
                sql.and(&format!("{column} <= {arg}"));
            }
        }
        if !q.created_by.is_empty() {
            let args: Vec<String> = q.created_by.iter().map(|&id| sql.arg(Bind::Int(id))).collect();
            sql.and(&format!("f.created_by in ({})", args.join(", ")));
        }
        if !q.updated_by.is_empty() {
            let args: Vec<String> = q.updated_by.iter().map(|&id| sql.arg(Bind::Int(id))).collect();
            sql.and(&format!("f.updated_by in ({})", args.join(", ")));
        }
        let column = match q.order {
            OrderField::CreatedAt => "f.created_at",
            OrderField::UpdatedAt => "f.updated_at",
            OrderField::Size => "f.size",
            OrderField::Name => "lower(f.name)",
        };
        let direction = if q.ascending { "asc" } else { "desc" };
        let limit = sql.arg(Bind::Int(q.paging.limit + 1));
        let offset = sql.arg(Bind::Int(q.paging.offset()));
        sql.text.push_str(&format!(
            " order by {column} {direction}, f.id {direction} limit {limit} offset {offset}"
        ));
        let mut query = sqlx::query_as::<_, FileRecord>(&sql.text);
        for bind in sql.binds {
            query = match bind {
                Bind::Int(i) => query.bind(i),
                Bind::Text(t) => query.bind(t),
            };
        }
        Ok(query.fetch_all(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_in_user_text_are_literal() {
        assert_eq!(escape_like("50%_Off\\"), "50\\%\\_Off\\\\");
    }
}
