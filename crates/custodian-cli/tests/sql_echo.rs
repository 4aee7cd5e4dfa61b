//! `CUSTODIAN_LOG=custodian::sql=debug`: the statements a command runs, with
//! their timings, and never the values bound to them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::process::{Command, Output};

use custodian_core::testing::TestDb;

fn custodian(db: &TestDb, log: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env(
            "CUSTODIAN_PEPPER",
            "sql-echo-test-pepper-0123456789abcdef0123",
        )
        .env("CUSTODIAN_LOG", log)
        .env_remove("DATABASE_URL")
        .env_remove("CUSTODIAN_CONFIG")
        .output()
        .expect("run custodian")
}

custodian_core::backend_tests! {
    the_sql_echo_logs_statements_and_timings_but_no_bound_value => echo,
}

async fn echo(db: TestDb) {
    assert!(custodian(&db, "warn", &["init"]).status.success());
    let name = "echo-bound-value-7f3a";
    let made = custodian(
        &db,
        "warn,custodian::sql=debug",
        &["keys", "create", "--role", "analyst", "--name", name],
    );
    let stderr = String::from_utf8_lossy(&made.stderr);
    assert!(made.status.success(), "{stderr}");
    // The command's own message names the key; the statements must not.
    let log: String = stderr
        .lines()
        .filter(|l| l.contains("sqlx::query"))
        .collect::<Vec<_>>()
        .join("\n");
    let key = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert!(
        log.contains(r#"INSERT INTO \"api_keys\""#),
        "the insert is echoed: {log}"
    );
    assert!(log.contains("elapsed"), "with its timing: {log}");
    for secret in [name, &key[..12]] {
        assert!(
            !log.contains(secret),
            "{secret:?} was bound, not echoed: {log}"
        );
    }

    let quiet = custodian(&db, "warn", &["keys", "list"]);
    let quiet_log = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        quiet.status.success() && !quiet_log.contains("SELECT"),
        "no echo unless asked: {quiet_log}"
    );
}
