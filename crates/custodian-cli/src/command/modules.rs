//! `custodian modules`: what this binary has and what is enabled.

use std::process::ExitCode;

use anyhow::Result;
use custodian_module::Env;

use super::App;

/// Prints each built module: enabled or not, its route count, tables and
/// one-line description.
pub fn run(app: &App) -> Result<ExitCode> {
    let env = Env::default();
    println!("{:<12} {:<9} {:>6}  tables", "module", "enabled", "routes");
    for m in app.modules.built() {
        let doc = m.routes(&env).into_openapi();
        let routes: usize = doc
            .paths
            .paths
            .values()
            .map(|item| {
                [
                    &item.get,
                    &item.put,
                    &item.post,
                    &item.delete,
                    &item.patch,
                    &item.head,
                    &item.options,
                    &item.trace,
                ]
                .iter()
                .filter(|op| op.is_some())
                .count()
            })
            .sum();
        let enabled = if app.modules.is_enabled(m.name()) {
            "yes"
        } else {
            "no"
        };
        println!(
            "{:<12} {:<9} {:>6}  {}",
            m.name(),
            enabled,
            routes,
            m.tables()
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("{:<12} {}", "", m.description());
    }
    Ok(ExitCode::SUCCESS)
}
