//! `custodian init`: create the database and apply every migration.

use std::process::ExitCode;

use anyhow::Result;

use super::App;

/// Creates the database if it is missing and brings its schema up to date.
pub async fn run(app: &App) -> Result<ExitCode> {
    let store = app.connect(true).await?;
    let applied = app.migrator()?.up(&store).await?;
    println!(
        "database: {} ({})",
        app.config.database.url,
        store.backend()
    );
    if applied.is_empty() {
        println!("schema already up to date");
    }
    for name in applied {
        println!("applied {name}");
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
