//! Files and their versions. A file's bytes are the parts of the session
//! that uploaded its version (`upload_pieces` by `session_id`).

use super::{accounts::AccountId, Db};
use crate::{domain::file_name::extension_of, error::Result};

/// A file with its active version.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileRecord {
    pub id: i64,
    pub uuid: String,
    pub account_id: i64,
    pub name: String,
    pub source_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub deleted_at: Option<i64>,
    pub deleted_by: Option<i64>,
    pub version_id: i64,
    pub version_uuid: String,
    pub size: i64,
    pub mime_type: String,
    pub sha256: String,
    pub session_id: i64,
    pub version_count: i64,
}

impl FileRecord {
    pub fn is_trashed(&self) -> bool {
        self.deleted_at.is_some()
    }
}

impl crate::domain::trash::TrashState for FileRecord {
    fn trashed_at(&self) -> Option<i64> {
        self.deleted_at
    }
}

/// One version of a file.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VersionRecord {
    pub id: i64,
    pub uuid: String,
    pub file_id: i64,
    pub name: String,
    pub size: i64,
    pub mime_type: String,
    pub sha256: String,
    pub session_id: i64,
    pub part_size: i64,
    pub created_at: i64,
    pub created_by: Option<i64>,
    /// Always null: Satchel has no sources.
    pub source_id: Option<i64>,
    /// When and by whom the version was last made the active one; its
    /// upload until then.
    pub updated_at: i64,
    pub updated_by: Option<i64>,
}

/// A version as `satchel verify` names it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredVersion {
    pub version_id: i64,
    pub version_uuid: String,
    pub file_uuid: String,
    pub file_name: String,
    pub account: String,
    pub size: i64,
}

/// A stored preview of one version.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PreviewRecord {
    pub version_id: i64,
    pub width: i64,
    pub height: i64,
    pub mime_type: String,
    pub blob_key: String,
}

pub(super) const FILE_SELECT: &str =
    "select f.id, f.uuid, f.account_id, f.name, f.source_id, f.created_at, \
    f.updated_at, f.created_by, f.updated_by, f.deleted_at, f.deleted_by, \
    v.id as version_id, v.uuid as version_uuid, v.size, v.mime_type, v.sha256, v.session_id, \
    (select count(*) from file_versions c where c.file_id = f.id) as version_count \
    from files f join file_versions v on v.id = f.active_version_id";

/// A version's columns; `updated_*` are null until the version is made
/// active again (migration 0011), and read as its upload then.
const VERSION_COLUMNS: &str = "id, uuid, file_id, name, size, mime_type, sha256, session_id, \
    part_size, created_at, created_by, source_id, coalesce(updated_at, created_at) as updated_at, \
    coalesce(updated_by, created_by) as updated_by";

impl Db {
    /// The account's file with this uuid, trashed or not.
    pub async fn file_by_uuid(&self, account: AccountId, uuid: &str) -> Result<Option<FileRecord>> {
        let sql = format!("{FILE_SELECT} where f.account_id = $1 and f.uuid = $2");
        Ok(sqlx::query_as(&sql).bind(account.0).bind(uuid).fetch_optional(self.pool()).await?)
    }

    pub async fn file_by_id(&self, id: i64) -> Result<Option<FileRecord>> {
        let sql = format!("{FILE_SELECT} where f.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// A file's versions, newest first.
    pub async fn versions(&self, file_id: i64) -> Result<Vec<VersionRecord>> {
        let sql = format!(
            "select {VERSION_COLUMNS} from file_versions where file_id = $1 order by id desc"
        );
        Ok(sqlx::query_as(&sql).bind(file_id).fetch_all(self.pool()).await?)
    }

    pub async fn version_by_id(&self, id: i64) -> Result<Option<VersionRecord>> {
        let sql = format!("select {VERSION_COLUMNS} from file_versions where id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// Every stored version (of one account, or all), oldest first, with
    /// the names an operator knows it by; trashed files' versions too.
    pub async fn stored_versions(&self, account: Option<&str>) -> Result<Vec<StoredVersion>> {
        let select = "select v.id as version_id, v.uuid as version_uuid, f.uuid as file_uuid, \
             f.name as file_name, a.name as account, v.size as size from file_versions v \
             join files f on f.id = v.file_id join accounts a on a.id = f.account_id";
        let rows = match account {
            Some(name) => {
                let sql = format!("{select} where a.name = $1 order by v.id");
                sqlx::query_as(&sql).bind(name).fetch_all(self.pool()).await?
            }
            None => {
                sqlx::query_as(&format!("{select} order by v.id")).fetch_all(self.pool()).await?
            }
        };
        Ok(rows)
    }

    pub async fn version_by_uuid(&self, file_id: i64, uuid: &str) -> Result<Option<VersionRecord>> {
        let sql =
            format!("select {VERSION_COLUMNS} from file_versions where file_id = $1 and uuid = $2");
        Ok(sqlx::query_as(&sql).bind(file_id).bind(uuid).fetch_optional(self.pool()).await?)
    }

    /// Renames a file (the full name, extension included).
    pub async fn rename_file(&self, file_id: i64, name: &str, by: i64, now: i64) -> Result<()> {
        sqlx::query(
            "update files set name = $1, extension = $5, updated_at = $2, updated_by = $3 \
             where id = $4",
        )
        .bind(name)
        .bind(now)
        .bind(by)
        .bind(file_id)
        .bind(extension_of(name))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Makes one of the file's versions the one listings and downloads
    /// show, the file now called `name` (`FileName::with_extension_of`);
    /// the version records when and by whom.
    pub async fn activate_version(
        &self,
        file_id: i64,
        version: &VersionRecord,
        name: &str,
        by: i64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "update files set active_version_id = $1, updated_at = $2, updated_by = $3, \
             size = $5, name = $6, extension = $7 where id = $4",
        )
        .bind(version.id)
        .bind(now)
        .bind(by)
        .bind(file_id)
        .bind(version.size)
        .bind(name)
        .bind(extension_of(name))
        .execute(&mut *tx)
        .await?;
        sqlx::query("update file_versions set updated_at = $1, updated_by = $2 where id = $3")
            .bind(now)
            .bind(by)
            .bind(version.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A file by uuid whatever its account, for signed download links.
    pub async fn file_by_uuid_any_account(&self, uuid: &str) -> Result<Option<FileRecord>> {
        let sql = format!("{FILE_SELECT} where f.uuid = $1");
        Ok(sqlx::query_as(&sql).bind(uuid).fetch_optional(self.pool()).await?)
    }

    pub async fn add_preview(&self, preview: &PreviewRecord) -> Result<()> {
        sqlx::query(
            "insert into file_previews (version_id, width, height, mime_type, blob_key) \
             values ($1, $2, $3, $4, $5) on conflict (version_id, width) do nothing",
        )
        .bind(preview.version_id)
        .bind(preview.width)
        .bind(preview.height)
        .bind(&preview.mime_type)
        .bind(&preview.blob_key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets one preview of a version (its blob is gone).
    pub async fn forget_preview(&self, version_id: i64, width: i64) -> Result<()> {
        sqlx::query("delete from file_previews where version_id = $1 and width = $2")
            .bind(version_id)
            .bind(width)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A version's previews, smallest first.
    pub async fn previews(&self, version_id: i64) -> Result<Vec<PreviewRecord>> {
        Ok(sqlx::query_as(
            "select version_id, width, height, mime_type, blob_key from file_previews \
             where version_id = $1 order by width",
        )
        .bind(version_id)
        .fetch_all(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        domain::file_name::extension_of,
        store::DbKind,
        testing::{Backend, TestDb},
    };

    /// The statement of migration 0005 that fills `extension` for rows
    /// written before it.
    fn backfill(kind: DbKind) -> String {
        let migration = match kind {
            DbKind::Sqlite => include_str!("../../migrations/sqlite/0005_extension_size.sql"),
            DbKind::Postgres => include_str!("../../migrations/postgres/0005_extension_size.sql"),
        };
        let start = migration.find("update files set extension").expect("backfill statement");
        let end = start + migration[start..].find(';').expect("statement end");
        migration[start..end].to_owned()
    }

    /// Old rows get the same extension from the migration's SQL as new
    /// ones get from the server.
    async fn migration_extensions_match_the_servers(backend: Backend) {
        let t = TestDb::new(backend).await;
        let account = t.db.ensure_account("a").await.unwrap();
        let names = [
            "report.pdf",
            "Photo.JPeG",
            "archive.tar.GZ",
            "README",
            ".bashrc",
            "trailing.",
            "a..b",
            "x.y.z",
            "dots...",
            "спец.ДОК",
            "one.two three",
            "a.b.",
        ];
        for (i, name) in names.iter().enumerate() {
            sqlx::query(
                "insert into files (uuid, account_id, name, extension, created_at, updated_at) \
                 values ($1, $2, $3, 'stale', 0, 0)",
            )
            .bind(format!("u{i}"))
            .bind(account.0)
            .bind(*name)
            .execute(t.db.pool())
            .await
            .unwrap();
        }
        sqlx::query(&backfill(t.db.kind())).execute(t.db.pool()).await.unwrap();
        for name in names {
            let stored: Option<String> =
                sqlx::query_scalar("select extension from files where name = $1")
                    .bind(name)
                    .fetch_one(t.db.pool())
                    .await
                    .unwrap();
            let mut expected = extension_of(name);
            if t.db.kind() == DbKind::Sqlite {
                // SQLite's lower() folds ASCII only; the server folds all.
                expected = name.rsplit_once('.').and_then(|(stem, ext)| {
                    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
                });
            }
            assert_eq!(stored, expected, "{name}");
        }
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_migration_extensions_match_the_servers() {
        migration_extensions_match_the_servers(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_migration_extensions_match_the_servers() {
        migration_extensions_match_the_servers(Backend::Postgres).await;
    }
}
