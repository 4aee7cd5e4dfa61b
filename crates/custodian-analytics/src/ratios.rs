//! The split ratios a database's patients were assigned with, kept in the
//! database: a process whose `[splits]` differ refuses to start, so one
//! patient's rows never land in two splits.

use custodian_core::{Error, Result, Store};
use custodian_privacy::splits::SplitConfig;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// The ratios as stored: `train,validation,test,holdout`, six decimals.
pub fn fingerprint(c: &SplitConfig) -> String {
    format!(
        "{:.6},{:.6},{:.6},{:.6}",
        c.train, c.validation, c.test, c.holdout
    )
}

/// Records `config`'s ratios if none are recorded yet, else refuses ratios
/// that differ from the recorded ones, saying how to go on.
pub async fn check_or_record(store: &Store, config: &SplitConfig) -> Result<()> {
    let conn = store.conn();
    let backend = conn.get_database_backend();
    let mark = |i: usize| match backend {
        DbBackend::Postgres => format!("${i}"),
        _ => "?".to_owned(),
    };
    let want = fingerprint(config);
    let insert = Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO analytics_split_ratios (id, ratios, recorded_at) VALUES (1, {}, {}) \
             ON CONFLICT (id) DO NOTHING",
            mark(1),
            mark(2)
        ),
        [want.clone().into(), custodian_core::time::now().into()],
    );
    conn.execute_raw(insert).await?;
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT ratios FROM analytics_split_ratios WHERE id = 1",
        ))
        .await?;
    let stored: String = match row {
        Some(r) => r.try_get("", "ratios")?,
        None => return Ok(()),
    };
    if stored == want {
        return Ok(());
    }
    Err(Error::Config(format!(
        "[splits] ratios {want} (train,validation,test,holdout) differ from {stored}, the ratios \
         this database's patients were assigned with; a patient's new rows would land in another \
         split. Set [splits] back to {stored}. To change them, export the analytics data, load it \
         into a new database with the new ratios, and switch to it"
    )))
}
