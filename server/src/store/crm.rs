//! The CRM side: entities, custom fields and their values, notes, and the
//! files attached to entities (the Media tab). Callers resolve and check
//! every file first (`domain::trash::usable`); each write here is one
//! transaction, so a batch lands whole or not at all.

use super::{accounts::AccountId, Db, DbKind};
use crate::{
    domain::{
        crm::{EntityType, FieldType, FieldTypes},
        notes::{NoteFilter, OrderField},
    },
    error::{Error, Result},
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EntityRecord {
    pub id: i64,
    pub account_id: i64,
    pub entity_type: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FieldRecord {
    pub id: i64,
    pub entity_type: String,
    pub name: String,
    pub field_type: String,
}

/// One stored value of a field, with its file as it is now.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ValueRecord {
    pub entity_id: i64,
    pub field_id: i64,
    pub field_name: String,
    pub field_type: String,
    pub text_value: Option<String>,
    pub file_uuid: Option<String>,
    /// The pinned version, or else the file's active one.
    pub version_uuid: Option<String>,
    /// The name sent with the value, or else the version's.
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub trashed_at: Option<i64>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NoteRecord {
    pub id: i64,
    pub account_id: i64,
    pub entity_id: i64,
    /// The entity's type: leads, contacts or companies.
    pub entity_type: String,
    pub note_type: String,
    pub text_value: Option<String>,
    /// The params of every type but attachment, a JSON object.
    pub params: Option<String>,
    pub file_uuid: Option<String>,
    pub version_uuid: Option<String>,
    /// The name the note was given.
    pub file_name: Option<String>,
    /// The version's own name.
    pub original_name: Option<String>,
    pub trashed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
}

/// One file in an entity's Media tab.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MediaRecord {
    pub id: i64,
    pub file_uuid: String,
    pub trashed_at: Option<i64>,
}

/// An entity a file is attached to.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LinkedEntity {
    pub id: i64,
    pub name: String,
    pub entity_type: String,
}

/// A value to store, its file already resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredValue {
    Text(String),
    File { file_id: i64, version_id: Option<i64>, file_name: Option<String> },
}

/// A field's new values; they replace the old ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredField {
    pub field_id: i64,
    pub values: Vec<StoredValue>,
}

/// A note to store, its file (if any) already resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewNote {
    Common { text: String, created_at: i64 },
    Attachment { file_id: i64, version_id: i64, file_name: String, created_at: i64 },
}

/// What a note holds, its file (if any) already resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoteBody {
    /// Every type but attachment: its params (a JSON object) and its
    /// text, where the type has one.
    Params {
        note_type: &'static str,
        params: String,
        text: Option<String>,
    },
    Attachment {
        file_id: i64,
        version_id: i64,
        file_name: String,
    },
}

impl NoteBody {
    fn file_id(&self) -> Option<i64> {
        match self {
            NoteBody::Attachment { file_id, .. } => Some(*file_id),
            NoteBody::Params { .. } => None,
        }
    }
}

/// A note to add to an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteWrite {
    pub entity_id: i64,
    pub body: NoteBody,
    pub created_at: i64,
    pub updated_at: i64,
}

impl NewNote {
    /// The same note as the batch write takes it.
    fn into_write(self, entity_id: i64, now: i64) -> NoteWrite {
        let (body, created_at) = match self {
            NewNote::Common { text, created_at } => (
                NoteBody::Params {
                    note_type: "common",
                    params: serde_json::json!({ "text": text }).to_string(),
                    text: Some(text),
                },
                created_at,
            ),
            NewNote::Attachment { file_id, version_id, file_name, created_at } => {
                (NoteBody::Attachment { file_id, version_id, file_name }, created_at)
            }
        };
        NoteWrite { entity_id, body, created_at, updated_at: now }
    }
}

/// The changes to one note: a new body (type and params) or none, and
/// its times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteEdit {
    pub id: i64,
    pub entity_id: i64,
    pub body: Option<NoteBody>,
    pub created_at: Option<i64>,
    pub updated_at: i64,
}

/// Which notes a list reads: the account's notes of one entity type (or
/// of one entity), narrowed by Kommo's filters.
pub struct NoteQuery<'a> {
    pub account: AccountId,
    pub kind: EntityType,
    pub entity_id: Option<i64>,
    pub filter: &'a NoteFilter,
}

const NOTE_SELECT: &str = "select n.id, n.account_id, n.entity_id, e.entity_type, n.note_type, \
       n.text_value, n.params, f.uuid as file_uuid, v.uuid as version_uuid, n.file_name, \
       v.name as original_name, f.deleted_at as trashed_at, n.created_at, n.updated_at, \
       n.created_by, coalesce(n.updated_by, n.created_by) as updated_by \
     from notes n join entities e on e.id = n.entity_id \
     left join files f on f.id = n.file_id \
     left join file_versions v on v.id = n.version_id";

/// A value bound to a built query.
enum Arg {
    Int(i64),
    Text(String),
}

/// `, $n, $n+1 ...` placeholders for `count` values after `args`.
fn placeholders(args: &[Arg], count: usize) -> String {
    numbered(args.len() + 1, count)
}

/// `$first, $first+1, ...`: `count` numbered placeholders for an `in (...)`.
fn numbered(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Inside a write: the files it puts to use must still be outside the
/// trash (`Error::FileTrashed` otherwise, and the write is dropped). The
/// caller checked them before; this closes the gap to a trash that
/// committed since.
/// - PostgreSQL: the rows are share-locked, so a trash waits until this
///   write commits.
/// - SQLite: the check is a no-op update, so the transaction holds the
///   write lock from its first statement. A read first would pin a
///   snapshot that another writer can outdate, and SQLite then refuses
///   the write at once ("database is locked") instead of waiting.
async fn still_usable(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: DbKind,
    file_ids: Vec<i64>,
) -> Result<()> {
    for id in file_ids {
        let usable =
            match kind {
                DbKind::Postgres => {
                    let deleted_at: Option<Option<i64>> =
                        sqlx::query_scalar("select deleted_at from files where id = $1 for share")
                            .bind(id)
                            .fetch_optional(&mut **tx)
                            .await?;
                    matches!(deleted_at, Some(None))
                }
                DbKind::Sqlite => sqlx::query(
                    "update files set deleted_at = deleted_at where id = $1 and deleted_at is null",
                )
                .bind(id)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1,
            };
        if !usable {
            return Err(Error::FileTrashed);
        }
    }
    Ok(())
}

/// The files a set of field values names.
fn files_in(fields: &[StoredField]) -> Vec<i64> {
    fields
        .iter()
        .flat_map(|f| &f.values)
        .filter_map(|v| match v {
            StoredValue::File { file_id, .. } => Some(*file_id),
            StoredValue::Text(_) => None,
        })
        .collect()
}

const ENTITY_COLUMNS: &str =
    "id, account_id, entity_type, name, created_at, updated_at, created_by, updated_by";

async fn write_fields(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entity_id: i64,
    fields: &[StoredField],
) -> Result<()> {
    for field in fields {
        sqlx::query("delete from field_values where entity_id = $1 and field_id = $2")
            .bind(entity_id)
            .bind(field.field_id)
            .execute(&mut **tx)
            .await?;
        for (position, value) in field.values.iter().enumerate() {
            let (text, file_id, version_id, file_name) = match value {
                StoredValue::Text(t) => (Some(t.as_str()), None, None, None),
                StoredValue::File { file_id, version_id, file_name } => {
                    (None, Some(*file_id), *version_id, file_name.as_deref())
                }
            };
            sqlx::query(
                "insert into field_values (entity_id, field_id, position, text_value, file_id, \
                 version_id, file_name) values ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(entity_id)
            .bind(field.field_id)
            .bind(position as i64)
            .bind(text)
            .bind(file_id)
            .bind(version_id)
            .bind(file_name)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

impl Db {
    /// The account's custom fields of one entity type, in creation order.
    pub async fn custom_fields(
        &self,
        account: AccountId,
        kind: EntityType,
    ) -> Result<Vec<FieldRecord>> {
        Ok(sqlx::query_as(
            "select id, entity_type, name, field_type from custom_fields \
             where account_id = $1 and entity_type = $2 order by id",
        )
        .bind(account.0)
        .bind(kind.as_str())
        .fetch_all(self.pool())
        .await?)
    }

    /// The same, as the id-to-type map value parsing needs.
    pub async fn custom_field_types(
        &self,
        account: AccountId,
        kind: EntityType,
    ) -> Result<FieldTypes> {
        Ok(self
            .custom_fields(account, kind)
            .await?
            .into_iter()
            .filter_map(|f| FieldType::parse(&f.field_type).map(|t| (f.id, t)))
            .collect())
    }

    pub async fn create_custom_fields(
        &self,
        account: AccountId,
        kind: EntityType,
        fields: &[(String, FieldType)],
        now: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(fields.len());
        for (name, field_type) in fields {
            let id: i64 = sqlx::query_scalar(
                "insert into custom_fields (account_id, entity_type, name, field_type, created_at) \
                 values ($1, $2, $3, $4, $5) returning id",
            )
            .bind(account.0)
            .bind(kind.as_str())
            .bind(name)
            .bind(field_type.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Creates a batch of entities with their field values; returns their
    /// ids in order.
    pub async fn create_entities(
        &self,
        account: AccountId,
        kind: EntityType,
        entities: &[(String, Vec<StoredField>)],
        by: i64,
        now: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.pool().begin().await?;
        let files: Vec<i64> = entities.iter().flat_map(|(_, f)| files_in(f)).collect();
        still_usable(&mut tx, self.kind(), files).await?;
        let mut ids = Vec::with_capacity(entities.len());
        for (name, fields) in entities {
            let id: i64 = sqlx::query_scalar(
                "insert into entities (account_id, entity_type, name, created_at, updated_at, \
                 created_by, updated_by) values ($1, $2, $3, $4, $4, $5, $5) returning id",
            )
            .bind(account.0)
            .bind(kind.as_str())
            .bind(name)
            .bind(now)
            .bind(by)
            .fetch_one(&mut *tx)
            .await?;
            write_fields(&mut tx, id, fields).await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// The account's entity of this type and id.
    pub async fn entity(
        &self,
        account: AccountId,
        kind: EntityType,
        id: i64,
    ) -> Result<Option<EntityRecord>> {
        let sql = format!(
            "select {ENTITY_COLUMNS} from entities \
             where account_id = $1 and entity_type = $2 and id = $3"
        );
        Ok(sqlx::query_as(&sql)
            .bind(account.0)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A page of the account's entities of one type, in id order, plus
    /// one more when there is a next page; only those with these ids when
    /// `only` names some.
    pub async fn entities(
        &self,
        account: AccountId,
        kind: EntityType,
        only: &[i64],
        offset: i64,
        limit: i64,
    ) -> Result<Vec<EntityRecord>> {
        let mut sql = format!(
            "select {ENTITY_COLUMNS} from entities where account_id = $1 and entity_type = $2"
        );
        if !only.is_empty() {
            sql.push_str(&format!(" and id in ({})", numbered(5, only.len())));
        }
        sql.push_str(" order by id limit $3 offset $4");
        let mut query =
            sqlx::query_as(&sql).bind(account.0).bind(kind.as_str()).bind(limit + 1).bind(offset);
        for id in only {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Renames an entity and/or replaces some of its fields' values.
    pub async fn update_entity(
        &self,
        entity_id: i64,
        name: Option<&str>,
        fields: &[StoredField],
        by: i64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "update entities set name = coalesce($1, name), updated_at = $2, updated_by = $3 \
             where id = $4",
        )
        .bind(name)
        .bind(now)
        .bind(by)
        .bind(entity_id)
        .execute(&mut *tx)
        .await?;
        still_usable(&mut tx, self.kind(), files_in(fields)).await?;
        write_fields(&mut tx, entity_id, fields).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The field values of these entities, by entity, field and position.
    pub async fn field_values(&self, entity_ids: &[i64]) -> Result<Vec<ValueRecord>> {
        if entity_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select fv.entity_id, fv.field_id, cf.name as field_name, cf.field_type, fv.text_value, \
               f.uuid as file_uuid, coalesce(pv.uuid, av.uuid) as version_uuid, \
               coalesce(fv.file_name, pv.name, av.name) as file_name, \
               cast(coalesce(pv.size, av.size) as bigint) as file_size, f.deleted_at as trashed_at \
             from field_values fv \
             join custom_fields cf on cf.id = fv.field_id \
             left join files f on f.id = fv.file_id \
             left join file_versions pv on pv.id = fv.version_id \
             left join file_versions av on av.id = f.active_version_id \
             where fv.entity_id in ({}) order by fv.entity_id, fv.field_id, fv.position",
            numbered(1, entity_ids.len())
        );
        let mut query = sqlx::query_as(&sql);
        for id in entity_ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Adds notes to an entity; an attachment note also attaches its file
    /// (the Media tab). Returns the notes' ids in order.
    pub async fn add_notes(
        &self,
        account: AccountId,
        entity_id: i64,
        notes: &[NewNote],
        by: i64,
        now: i64,
    ) -> Result<Vec<i64>> {
        let writes: Vec<NoteWrite> =
            notes.iter().cloned().map(|n| n.into_write(entity_id, now)).collect();
        self.write_notes(account, &writes, by).await
    }

    /// Adds notes, each to its entity (the caller checked they are the
    /// account's), in one transaction; an attachment note also attaches
    /// its file. Returns the notes' ids in order.
    pub async fn write_notes(
        &self,
        account: AccountId,
        notes: &[NoteWrite],
        by: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.pool().begin().await?;
        let files: Vec<i64> = notes.iter().filter_map(|n| n.body.file_id()).collect();
        still_usable(&mut tx, self.kind(), files).await?;
        let mut ids = Vec::with_capacity(notes.len());
        for note in notes {
            let (kind, text, params, file_id, version_id, file_name) = body_columns(&note.body);
            let id: i64 = sqlx::query_scalar(
                "insert into notes (account_id, entity_id, note_type, text_value, params, file_id, \
                 version_id, file_name, created_at, updated_at, created_by, updated_by) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) returning id",
            )
            .bind(account.0)
            .bind(note.entity_id)
            .bind(kind)
            .bind(text)
            .bind(params)
            .bind(file_id)
            .bind(version_id)
            .bind(file_name)
            .bind(note.created_at)
            .bind(note.updated_at)
            .bind(by)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(file_id) = file_id {
                attach(&mut tx, account, note.entity_id, file_id, by, note.updated_at).await?;
            }
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Edits notes of the account (the caller found each one), in one
    /// transaction; a note that becomes an attachment attaches its file.
    pub async fn edit_notes(&self, account: AccountId, edits: &[NoteEdit], by: i64) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let files: Vec<i64> =
            edits.iter().filter_map(|e| e.body.as_ref().and_then(NoteBody::file_id)).collect();
        still_usable(&mut tx, self.kind(), files).await?;
        for edit in edits {
            if let Some(body) = &edit.body {
                let (kind, text, params, file_id, version_id, file_name) = body_columns(body);
                sqlx::query(
                    "update notes set note_type = $1, text_value = $2, params = $3, file_id = $4, \
                     version_id = $5, file_name = $6 where id = $7 and account_id = $8",
                )
                .bind(kind)
                .bind(text)
                .bind(params)
                .bind(file_id)
                .bind(version_id)
                .bind(file_name)
                .bind(edit.id)
                .bind(account.0)
                .execute(&mut *tx)
                .await?;
                if let Some(file_id) = file_id {
                    attach(&mut tx, account, edit.entity_id, file_id, by, edit.updated_at).await?;
                }
            }
            if let Some(created_at) = edit.created_at {
                sqlx::query("update notes set created_at = $1 where id = $2 and account_id = $3")
                    .bind(created_at)
                    .bind(edit.id)
                    .bind(account.0)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "update notes set updated_at = $1, updated_by = $2 where id = $3 and account_id = $4",
            )
            .bind(edit.updated_at)
            .bind(by)
            .bind(edit.id)
            .bind(account.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account's note of this entity type and id.
    pub async fn note(
        &self,
        account: AccountId,
        kind: EntityType,
        id: i64,
    ) -> Result<Option<NoteRecord>> {
        let sql =
            format!("{NOTE_SELECT} where n.account_id = $1 and e.entity_type = $2 and n.id = $3");
        Ok(sqlx::query_as(&sql)
            .bind(account.0)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The account's notes with these ids, in id order.
    pub async fn notes_by_id(&self, account: AccountId, ids: &[i64]) -> Result<Vec<NoteRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{NOTE_SELECT} where n.account_id = $1 and n.id in ({}) order by n.id",
            numbered(2, ids.len())
        );
        let mut query = sqlx::query_as(&sql).bind(account.0);
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// A page of notes as the list's filter and order ask, plus one more
    /// when there is a next page. Without an order: oldest first
    /// (`created_at`, then `id`), the feed's order.
    pub async fn notes(&self, query: &NoteQuery<'_>) -> Result<Vec<NoteRecord>> {
        let filter = query.filter;
        let mut args = vec![Arg::Int(query.account.0), Arg::Text(query.kind.as_str().to_owned())];
        let mut sql = format!("{NOTE_SELECT} where n.account_id = $1 and e.entity_type = $2");
        if let Some(entity) = query.entity_id {
            sql.push_str(&format!(" and n.entity_id = ${}", args.len() + 1));
            args.push(Arg::Int(entity));
        }
        for (column, ids) in [("n.id", &filter.ids), ("n.entity_id", &filter.entity_ids)] {
            if !ids.is_empty() {
                sql.push_str(&format!(" and {column} in ({})", placeholders(&args, ids.len())));
                args.extend(ids.iter().map(|id| Arg::Int(*id)));
            }
        }
        if !filter.note_types.is_empty() {
            let listed = placeholders(&args, filter.note_types.len());
            sql.push_str(&format!(" and n.note_type in ({listed})"));
            args.extend(filter.note_types.iter().map(|t| Arg::Text(t.as_str().to_owned())));
        }
        let (from, to) = filter.updated_at.map(|u| u.bounds()).unwrap_or_default();
        for (bound, op) in [(from, ">="), (to, "<=")] {
            if let Some(ts) = bound {
                sql.push_str(&format!(" and n.updated_at {op} ${}", args.len() + 1));
                args.push(Arg::Int(ts));
            }
        }
        let mut order: Vec<String> = filter
            .order
            .iter()
            .map(|(field, ascending)| {
                let column = match field {
                    OrderField::UpdatedAt => "n.updated_at",
                    OrderField::Id => "n.id",
                };
                format!("{column} {}", if *ascending { "asc" } else { "desc" })
            })
            .collect();
        if order.is_empty() {
            order.push("n.created_at asc".into());
        }
        if !filter.order.iter().any(|(f, _)| *f == OrderField::Id) {
            order.push("n.id asc".into());
        }
        sql.push_str(&format!(
            " order by {} limit ${} offset ${}",
            order.join(", "),
            args.len() + 1,
            args.len() + 2
        ));
        args.push(Arg::Int(filter.paging.limit + 1));
        args.push(Arg::Int(filter.paging.offset()));
        let mut built = sqlx::query_as(&sql);
        for arg in args {
            built = match arg {
                Arg::Int(n) => built.bind(n),
                Arg::Text(t) => built.bind(t),
            };
        }
        Ok(built.fetch_all(self.pool()).await?)
    }

    /// Attaches files to an entity; files already attached stay as they
    /// were.
    pub async fn attach_files(
        &self,
        account: AccountId,
        entity_id: i64,
        file_ids: &[i64],
        by: i64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        still_usable(&mut tx, self.kind(), file_ids.to_vec()).await?;
        for file_id in file_ids {
            attach(&mut tx, account, entity_id, *file_id, by, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Detaches files from an entity; files not attached are ignored.
    pub async fn detach_files(&self, entity_id: i64, file_ids: &[i64]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        for file_id in file_ids {
            sqlx::query("delete from entity_files where entity_id = $1 and file_id = $2")
                .bind(entity_id)
                .bind(*file_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An entity's Media tab, newest link first, from below `before_id`,
    /// plus one more when there is a next page.
    pub async fn media(
        &self,
        entity_id: i64,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MediaRecord>> {
        Ok(sqlx::query_as(
            "select l.id, f.uuid as file_uuid, f.deleted_at as trashed_at \
             from entity_files l join files f on f.id = l.file_id \
             where l.entity_id = $1 and l.id < $2 order by l.id desc limit $3",
        )
        .bind(entity_id)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?)
    }

    /// The entity's Media entries for these files (those attached).
    pub async fn media_links(&self, entity_id: i64, file_ids: &[i64]) -> Result<Vec<MediaRecord>> {
        if file_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select l.id, f.uuid as file_uuid, f.deleted_at as trashed_at \
             from entity_files l join files f on f.id = l.file_id \
             where l.entity_id = $1 and l.file_id in ({}) order by l.id",
            numbered(2, file_ids.len())
        );
        let mut query = sqlx::query_as(&sql).bind(entity_id);
        for id in file_ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The entities a file is attached to, in link order.
    pub async fn file_links(&self, file_id: i64) -> Result<Vec<LinkedEntity>> {
        Ok(sqlx::query_as(
            "select e.id, e.name, e.entity_type from entity_files l \
             join entities e on e.id = l.entity_id where l.file_id = $1 order by l.id",
        )
        .bind(file_id)
        .fetch_all(self.pool())
        .await?)
    }
}

/// The columns a note's body fills: type, text, params, file, version,
/// file name.
#[allow(clippy::type_complexity)]
fn body_columns(
    body: &NoteBody,
) -> (&'static str, Option<&str>, Option<&str>, Option<i64>, Option<i64>, Option<&str>) {
    match body {
        NoteBody::Params { note_type, params, text } => {
            (note_type, text.as_deref(), Some(params.as_str()), None, None, None)
        }
        NoteBody::Attachment { file_id, version_id, file_name } => {
            ("attachment", None, None, Some(*file_id), Some(*version_id), Some(file_name.as_str()))
        }
    }
}

async fn attach(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: AccountId,
    entity_id: i64,
    file_id: i64,
    by: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "insert into entity_files (account_id, entity_id, file_id, created_at, created_by) \
         values ($1, $2, $3, $4, $5) on conflict (entity_id, file_id) do nothing",
    )
    .bind(account.0)
    .bind(entity_id)
    .bind(file_id)
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
