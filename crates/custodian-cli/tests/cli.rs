//! The `custodian` binary against real databases, one body per backend.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::process::{Command, Output};

use custodian_core::testing::TestDb;
use sea_orm::ConnectionTrait;

fn custodian(db: &TestDb, args: &[&str]) -> Output {
    let dir = std::env::temp_dir();
    Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(args)
        .current_dir(dir)
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env("CUSTODIAN_PEPPER", TEST_PEPPER)
        .env_remove("DATABASE_URL")
        .env_remove("CUSTODIAN_CONFIG")
        .output()
        .expect("run custodian")
}

const TEST_PEPPER: &str = "cli-test-pepper-0123456789abcdef0123456789";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

custodian_core::backend_tests! {
    init_then_check_succeeds => init_then_check,
    migrate_down_then_up_round_trips => down_then_up,
    two_processes_migrating_at_once_both_succeed => concurrent_processes,
    a_newer_schema_is_refused_by_check_and_serve => newer_schema_refused,
    audit_verify_names_an_edited_row_and_a_truncated_tail => audit_verify,
    keys_are_created_once_listed_without_secrets_and_revoked => keys_lifecycle,
    no_pepper_and_no_key_reach_logs_error_bodies_or_metrics => secrets_stay_secret,
}

/// One HTTP/1.1 exchange on a fresh connection; the whole response as text.
fn http(addr: &str, method: &str, path: &str, key: Option<&str>, body: &str) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let auth = key
        .map(|k| format!("authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n\
         {auth}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    out
}

async fn secrets_stay_secret(db: TestDb) {
    use std::io::{BufRead, Read};
    assert!(custodian(&db, &["init"]).status.success());
    let admin = String::from_utf8_lossy(
        &custodian(
            &db,
            &["keys", "create", "--role", "admin", "--name", "root"],
        )
        .stdout,
    )
    .trim()
    .to_owned();
    let analyst = String::from_utf8_lossy(
        &custodian(
            &db,
            &["keys", "create", "--role", "analyst", "--name", "ana"],
        )
        .stdout,
    )
    .trim()
    .to_owned();
    let mut server = Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(std::env::temp_dir())
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env("CUSTODIAN_PEPPER", TEST_PEPPER)
        .env("CUSTODIAN_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut seen = String::new();
    let addr = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve exited early: {seen}"
        );
        seen.push_str(&line);
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut wrong = admin.clone();
    wrong.replace_range(20..24, "AAAA");
    let responses = [
        http(
            &addr,
            "POST",
            "/v1/events",
            Some(&admin),
            r#"{"event_type":"sms_sent","payload":{"to":"Ann"}}"#,
        ),
        http(
            &addr,
            "POST",
            "/v1/events",
            Some(&admin),
            r#"{"event_type":""}"#,
        ),
        http(
            &addr,
            "POST",
            "/v1/events",
            Some(&analyst),
            r#"{"event_type":"x"}"#,
        ),
        http(&addr, "GET", "/v1/events?colour=eq.red", Some(&admin), ""),
        http(&addr, "GET", "/v1/events", Some(&wrong), ""),
        http(&addr, "GET", "/v1/events", None, ""),
        http(&addr, "GET", "/v1/audit", Some(&admin), ""),
        http(&addr, "GET", "/v1/nothing", Some(&admin), ""),
        http(&addr, "GET", "/metrics", None, ""),
        http(&addr, "GET", "/readyz", None, ""),
    ];
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let status = server.wait().unwrap();
    assert!(status.success(), "serve stops cleanly on SIGTERM");
    stdout.read_to_string(&mut seen).unwrap();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut seen)
        .unwrap();
    let everything = format!("{seen}\n{}", responses.join("\n"));
    assert!(responses[0].starts_with("HTTP/1.1 201"), "{}", responses[0]);
    assert!(responses[2].starts_with("HTTP/1.1 403"), "{}", responses[2]);
    assert!(responses[4].starts_with("HTTP/1.1 401"), "{}", responses[4]);
    assert!(
        responses[8].contains("custodian_http_requests_total"),
        "{}",
        responses[8]
    );
    for secret in [
        TEST_PEPPER,
        &admin,
        &analyst,
        &admin[12..],
        &analyst[12..],
        &wrong,
    ] {
        assert!(!everything.contains(secret), "a secret leaked: {secret}");
    }
    assert!(
        seen.contains("pseudonymizer ready"),
        "the log was captured: {seen}"
    );
}

async fn keys_lifecycle(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    let made = custodian(
        &db,
        &["keys", "create", "--role", "analyst", "--name", "ana"],
    );
    assert!(made.status.success(), "{}", text(&made));
    let key = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert!(key.starts_with("cus_") && key.len() == 47, "{key}");
    let dup = custodian(&db, &["keys", "create", "--role", "admin", "--name", "ana"]);
    assert!(
        !dup.status.success() && text(&dup).contains("already exists"),
        "{}",
        text(&dup)
    );
    let bad_role = custodian(&db, &["keys", "create", "--role", "root", "--name", "x"]);
    assert!(
        !bad_role.status.success() && text(&bad_role).contains("unknown role"),
        "{}",
        text(&bad_role)
    );
    let listed = text(&custodian(&db, &["keys", "list"]));
    assert!(
        listed.contains("ana") && listed.contains("analyst") && listed.contains(&key[..12]),
        "{listed}"
    );
    assert!(
        !listed.contains(&key[12..]),
        "the secret part is never listed"
    );
    let revoked = custodian(&db, &["keys", "revoke", "ana"]);
    assert!(revoked.status.success(), "{}", text(&revoked));
    let principal = custodian_privacy::keys::authenticate(db.store.conn(), &key)
        .await
        .unwrap();
    assert!(principal.is_none(), "a revoked key authenticates nobody");
    let roles = text(&custodian(&db, &["keys", "roles"]));
    assert!(
        roles
            .lines()
            .any(|l| l.starts_with("analyst") && l.ends_with("train,validation")),
        "{roles}"
    );
}

#[test]
fn serve_refuses_to_start_without_a_pepper_and_says_what_to_set() {
    let path = std::env::temp_dir().join(format!("custodian-nopepper-{}.db", uuid::Uuid::now_v7()));
    for pepper in [None, Some("too-short")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_custodian"));
        cmd.args(["serve", "--migrate", "--bind", "127.0.0.1:0"])
            .env(
                "CUSTODIAN_DATABASE_URL",
                format!("sqlite://{}", path.display()),
            )
            .env_remove("CUSTODIAN_PEPPER")
            .env_remove("CUSTODIAN_PEPPER_FILE");
        if let Some(p) = pepper {
            cmd.env("CUSTODIAN_PEPPER", p);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let said = text(&out);
        assert!(said.contains("CUSTODIAN_PEPPER"), "{said}");
        assert!(
            !said.contains("too-short"),
            "the pepper itself is never printed: {said}"
        );
    }
    assert!(
        !path.exists(),
        "nothing is created before the configuration is valid"
    );
}

async fn init_then_check(db: TestDb) {
    let init = custodian(&db, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    assert!(
        text(&init).contains("applied m20261123_000001_ledger_events"),
        "{}",
        text(&init)
    );
    let check = custodian(&db, &["check"]);
    assert!(check.status.success(), "{}", text(&check));
    let out = text(&check);
    assert!(
        out.contains(&format!("backend: {}", db.store.backend())),
        "{out}"
    );
    assert!(out.contains("status: ok"), "{out}");
    let again = custodian(&db, &["init"]);
    assert!(
        text(&again).contains("already up to date"),
        "{}",
        text(&again)
    );
}

async fn down_then_up(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    let down = custodian(&db, &["migrate", "down", "--steps", "1"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(
        text(&down).matches("reverted ").count(),
        1,
        "{}",
        text(&down)
    );
    let check = custodian(&db, &["check"]);
    assert!(
        !check.status.success(),
        "check must fail with pending migrations"
    );
    assert!(text(&check).contains("pending"), "{}", text(&check));
    let status = custodian(&db, &["migrate", "status"]);
    assert!(text(&status).contains("pending"), "{}", text(&status));
    let up = custodian(&db, &["migrate", "up"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(custodian(&db, &["check"]).status.success());
    // All the way down and back up again.
    let all = custodian(&db, &["migrate", "down", "--steps", "100"]);
    assert!(all.status.success(), "{}", text(&all));
    assert!(
        text(&all).contains("reverted m20261123_000001_ledger_events"),
        "{}",
        text(&all)
    );
    assert!(custodian(&db, &["migrate", "up"]).status.success());
    assert!(custodian(&db, &["check"]).status.success());
}

async fn concurrent_processes(db: TestDb) {
    let url = db.config.url.expose().to_owned();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_custodian"))
            .args(["migrate", "up"])
            .current_dir(std::env::temp_dir())
            .env("CUSTODIAN_DATABASE_URL", &url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn custodian")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let applied = [&a, &b]
        .iter()
        .filter(|o| text(o).contains("applied m2026"))
        .count();
    assert_eq!(
        applied,
        1,
        "exactly one process applies: {} / {}",
        text(&a),
        text(&b)
    );
    assert!(custodian(&db, &["check"]).status.success());
}

async fn newer_schema_refused(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    db.store
        .conn()
        .execute_unprepared(
            "INSERT INTO custodian_migrations (name, component, applied_at) \
             VALUES ('m20991231_000001_ledger_from_the_future', 'ledger', CURRENT_TIMESTAMP)",
        )
        .await
        .unwrap();
    for args in [
        &["check"][..],
        &["serve", "--bind", "127.0.0.1:0"],
        &["migrate", "up"],
    ] {
        let out = custodian(&db, args);
        assert!(
            !out.status.success(),
            "{args:?} must refuse: {}",
            text(&out)
        );
        assert!(
            text(&out).contains("m20991231_000001_ledger_from_the_future"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn read_only_commands_do_not_create_a_missing_sqlite_file() {
    let path = std::env::temp_dir().join(format!("custodian-missing-{}.db", uuid::Uuid::now_v7()));
    let out = Command::new(env!("CARGO_BIN_EXE_custodian"))
        .arg("check")
        .env(
            "CUSTODIAN_DATABASE_URL",
            format!("sqlite://{}", path.display()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("custodian init"), "{}", text(&out));
    assert!(!path.exists());
}

#[test]
fn bad_configuration_is_reported_with_its_source() {
    let out = Command::new(env!("CARGO_BIN_EXE_custodian"))
        .arg("check")
        .env("CUSTODIAN_DATABASE_URL", "sqlite://x.db")
        .env("CUSTODIAN_DB_ACQUIRE_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("CUSTODIAN_DB_ACQUIRE_TIMEOUT"),
        "{}",
        text(&out)
    );
}

async fn audit_verify(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    custodian_ledger::testing::append_audit(&db.store, 6).await;
    let ok = custodian(&db, &["audit", "verify"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).starts_with("ok: 6 entries, head seq 6"),
        "{}",
        text(&ok)
    );

    let dir = std::env::temp_dir().join(format!("custodian-keys-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("audit.key");
    let key_s = key.to_str().unwrap();
    let public = format!("{key_s}.pub");
    let cp = dir.join("cp.json");
    let cp_s = cp.to_str().unwrap();
    assert!(
        custodian(&db, &["audit", "keygen", "--out", key_s])
            .status
            .success()
    );
    let again = custodian(&db, &["audit", "keygen", "--out", key_s]);
    assert!(
        !again.status.success() && text(&again).contains("refusing to overwrite"),
        "{}",
        text(&again)
    );
    let made = custodian(&db, &["audit", "checkpoint", "--key", key_s, "--out", cp_s]);
    assert!(made.status.success(), "{}", text(&made));
    let with_cp = custodian(
        &db,
        &[
            "audit",
            "verify",
            "--checkpoint",
            cp_s,
            "--public-key",
            &public,
        ],
    );
    assert!(with_cp.status.success(), "{}", text(&with_cp));

    custodian_ledger::testing::drop_audit_triggers(&db.store).await;
    db.store
        .conn()
        .execute_unprepared("DELETE FROM audit_log WHERE seq = 6")
        .await
        .unwrap();
    let cut = custodian(
        &db,
        &[
            "audit",
            "verify",
            "--checkpoint",
            cp_s,
            "--public-key",
            &public,
        ],
    );
    assert!(!cut.status.success());
    assert!(
        text(&cut).contains("FAIL at seq 6: truncated"),
        "{}",
        text(&cut)
    );
    db.store
        .conn()
        .execute_unprepared("UPDATE audit_log SET entity_id = 'case-99' WHERE seq = 4")
        .await
        .unwrap();
    let edited = custodian(&db, &["audit", "verify"]);
    assert!(!edited.status.success());
    assert!(
        text(&edited).contains("FAIL at seq 4: hash mismatch"),
        "{}",
        text(&edited)
    );
    let _ = std::fs::remove_dir_all(dir);
}
