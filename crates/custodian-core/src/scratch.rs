//! Throwaway databases beside a given one: a new SQLite file in the temp
//! directory, or a new database on the same PostgreSQL server. The
//! benchmark and the per-test databases use them; `remove` drops them.

use std::path::PathBuf;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::{Error, Result, config::DatabaseUrl};

/// A database made for one run, and how to remove it.
#[derive(Debug)]
pub struct ScratchDb {
    /// Where it is.
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

/// One connection to the server's admin database, with startup parameters
/// PgBouncer accepts too (it only runs simple statements).
async fn admin(url: &str) -> Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(crate::store::pgbouncer_safe);
    Ok(Database::connect(opts).await?)
}

impl ScratchDb {
    /// Makes `<prefix>_<uuid>` beside `base`: a temp SQLite file when `base`
    /// is SQLite, otherwise `CREATE DATABASE` on `base`'s server (the role
    /// needs `CREATEDB`).
    pub async fn create(base: &DatabaseUrl, prefix: &str) -> Result<Self> {
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        if base.sqlite_path().is_some() {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            return Ok(Self {
                url: DatabaseUrl::parse(&format!("sqlite://{}", path.display()))?,
                cleanup: Cleanup::File(path),
            });
        }
        let admin_url = base.expose().to_owned();
        let admin = admin(&admin_url).await?;
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await;
        let _ = admin.close().await;
        created?;
        let mut url =
            url::Url::parse(&admin_url).map_err(|e| Error::Config(format!("database URL: {e}")))?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            url: DatabaseUrl::parse(url.as_str())?,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }

    /// Removes the database (close its pools first). Best effort for files.
    pub async fn remove(self) -> Result<()> {
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::PgDatabase { admin_url, name } => {
                let admin = admin(&admin_url).await?;
                let dropped = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
                dropped?;
            }
        }
        Ok(())
    }
}
