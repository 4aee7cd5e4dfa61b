//! The `custodian` binary against real databases, one body per backend.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::process::{Command, Output};

mod common;

use common::{Server, body_json, http, try_http};
use custodian_core::testing::TestDb;
use sea_orm::ConnectionTrait;

fn custodian(db: &TestDb, args: &[&str]) -> Output {
    custodian_with(db, args, &[])
}

/// [`custodian`] with more environment (`""` removes a variable).
fn custodian_with(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custodian"));
    cmd.args(args)
        .current_dir(dir)
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env("CUSTODIAN_PEPPER", TEST_PEPPER)
        .env("CUSTODIAN_KEK", custodian_core::testing::TEST_KEK_HEX)
        .env_remove("DATABASE_URL")
        .env_remove("CUSTODIAN_CONFIG");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    cmd.output().expect("run custodian")
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
    a_server_killed_mid_load_loses_nothing_it_acknowledged => crash_loses_nothing,
    seed_claims_once_then_snapshot_what_it_made => seed_and_snapshot_claims,
    seed_trials_once_then_rotate_its_mary_ids => seed_trials_then_rotate,
    seed_analytics_once_then_never_again => seed_analytics_once,
    acoustics_verify_files_reports_a_changed_and_a_missing_file => acoustics_verify_files,
    bench_smoke_run_prints_every_workload_with_an_ok_check => bench_smoke,
    a_disabled_module_has_no_migrations_commands_or_permission_rows => disabled_module,
}

/// Starts `custodian serve` on a free port (with `CUSTODIAN_LOG`, when given,
/// and its log kept) and waits until it listens.
#[allow(clippy::zombie_processes)] // returned inside Server: stop() or crash() waits for it
fn start_server(db: &TestDb, log: Option<&str>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custodian"));
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(std::env::temp_dir())
        .env("CUSTODIAN_DATABASE_URL", db.config.url.expose())
        .env("CUSTODIAN_PEPPER", TEST_PEPPER)
        .env("CUSTODIAN_KEK", custodian_core::testing::TEST_KEK_HEX)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(level) = log {
        cmd.env("CUSTODIAN_LOG", level)
            .stderr(std::process::Stdio::piped());
    }
    Server::spawn(cmd)
}

async fn crash_loses_nothing(db: TestDb) {
    use custodian_ledger::{audit, events};
    use sea_orm::EntityTrait;
    assert!(custodian(&db, &["init"]).status.success());
    let key = String::from_utf8_lossy(
        &custodian(
            &db,
            &["keys", "create", "--role", "service", "--name", "agent"],
        )
        .stdout,
    )
    .trim()
    .to_owned();
    let server = start_server(&db, None);
    let addr = server.addr.clone();
    let (sender, acks) = std::sync::mpsc::channel::<(String, String)>();
    let mut workers = Vec::new();
    for w in 0..4 {
        let (addr, key, sender) = (addr.clone(), key.clone(), sender.clone());
        workers.push(std::thread::spawn(move || {
            for i in 0..10_000 {
                let k = format!("crash-{w}-{i}");
                let body = format!(r#"{{"event_type":"call_placed","idempotency_key":"{k}"}}"#);
                match try_http(&addr, "POST", "/v1/events", Some(&key), &body) {
                    Ok(resp) if resp.starts_with("HTTP/1.1 201") => {
                        let id = body_json(&resp)["id"].as_str().unwrap().to_owned();
                        if sender.send((k, id)).is_err() {
                            return;
                        }
                    }
                    _ => return, // the server is gone
                }
            }
        }));
    }
    drop(sender);
    let mut acked = Vec::new();
    while acked.len() < 150 {
        acked.extend(acks.try_iter());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.crash();
    for w in workers {
        let _ = w.join();
    }
    acked.extend(acks.try_iter());

    let stored = events::entity::Entity::find()
        .all(db.store.conn())
        .await
        .unwrap();
    for (k, id) in &acked {
        assert!(
            stored.iter().any(|e| e.id.to_string() == *id),
            "acknowledged event {k} was lost"
        );
    }
    // The key's creation, plus exactly one entry per stored event: in the
    // chain, or queued behind a busy chain when the server died and linked
    // by the next linker.
    let linked = audit::count(db.store.conn()).await.unwrap();
    let queued = audit::backlog(db.store.conn()).await.unwrap();
    assert_eq!(linked + queued, stored.len() as u64 + 1);
    assert_eq!(audit::link_pending(&db.store).await.unwrap(), queued);
    let chain = audit::verify(db.store.conn(), None, |_| {}).await.unwrap();
    assert!(chain.ok(), "{chain:?}");
    assert_eq!(chain.entries, stored.len() as u64 + 1);

    // A client retrying after the crash finds its event, not a second one.
    let again = start_server(&db, None);
    let (k, id) = &acked[0];
    let body = format!(r#"{{"event_type":"call_placed","idempotency_key":"{k}"}}"#);
    let resp = http(&again.addr, "POST", "/v1/events", Some(&key), &body);
    assert!(again.stop().0, "serve stops cleanly on SIGTERM");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(body_json(&resp)["id"], id.as_str());
    assert_eq!(body_json(&resp)["duplicate"], true);
}

async fn secrets_stay_secret(db: TestDb) {
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
    let server = start_server(&db, Some("debug"));
    let addr = server.addr.clone();
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
    let (stopped, seen) = server.stop();
    assert!(stopped, "serve stops cleanly on SIGTERM");
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

/// How many steps `migrate down` takes to revert `name` (and everything
/// newer), read from a dry run, so adding a module's migration moves no number.
fn steps_to(db: &TestDb, name: &str) -> String {
    let plan = custodian(db, &["migrate", "down", "--steps", "1000", "--dry-run"]);
    let reverts: Vec<String> = text(&plan)
        .lines()
        .filter_map(|l| l.strip_prefix("would revert ").map(str::to_owned))
        .collect();
    let at = reverts
        .iter()
        .position(|m| m == name)
        .unwrap_or_else(|| panic!("{name} not in {reverts:?}"));
    (at + 1).to_string()
}

async fn down_then_up(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    // The migrations newer than analytics' tables hold nothing and go without
    // a word; analytics' tables include the seeded agent registry: a plain
    // revert down to them is refused, names it, and changes nothing.
    let to_registry = steps_to(&db, "m20261124_000001_analytics_tables");
    let to_registry = to_registry.as_str();
    let refused = custodian(&db, &["migrate", "down", "--steps", to_registry]);
    assert!(!refused.status.success());
    let said = text(&refused);
    assert!(
        said.contains("analytics_agent_registry") && said.contains("--force"),
        "{said}"
    );
    assert!(
        custodian(&db, &["check"]).status.success(),
        "nothing was reverted"
    );
    let plan = custodian(
        &db,
        &["migrate", "down", "--steps", to_registry, "--dry-run"],
    );
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        text(&plan).contains("would drop analytics_agent_registry (holding rows)"),
        "{}",
        text(&plan)
    );
    assert!(
        custodian(&db, &["check"]).status.success(),
        "a dry run changes nothing"
    );
    let down = custodian(&db, &["migrate", "down", "--steps", to_registry, "--force"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(
        text(&down).matches("reverted ").count().to_string(),
        to_registry,
        "{}",
        text(&down)
    );
    let recorded = db
        .store
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            db.store.conn().get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'migrate_down'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(recorded, 1, "the revert is recorded in the chain");
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
    // Down to the events key-scope migration: it drops a column of events,
    // which needs --drop events even though no table goes.
    let to_key_scope = steps_to(&db, "m20261203_000001_ledger_event_key_scope");
    let to_key_scope = to_key_scope.as_str();
    let refused = custodian(
        &db,
        &["migrate", "down", "--steps", to_key_scope, "--force"],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("--drop events"),
        "{}",
        text(&refused)
    );
    let plan = custodian(
        &db,
        &["migrate", "down", "--steps", to_key_scope, "--dry-run"],
    );
    assert!(
        text(&plan).contains("would drop events.key_scope"),
        "{}",
        text(&plan)
    );
    // All the way down: the ledger's tables only when named.
    let refused = custodian(&db, &["migrate", "down", "--steps", "100", "--force"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("audit_log") && text(&refused).contains("--drop events"),
        "{}",
        text(&refused)
    );
    let all = custodian(
        &db,
        &[
            "migrate",
            "down",
            "--steps",
            "100",
            "--force",
            "--drop",
            "audit_log",
            "--drop",
            "audit_queue",
            "--drop",
            "events",
        ],
    );
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

async fn seed_and_snapshot_claims(db: TestDb) {
    let o = custodian(&db, &["seed", "claims", "--cases", "40"]);
    assert!(!o.status.success(), "seeding needs a migrated database");
    assert!(custodian(&db, &["init"]).status.success());
    let o = custodian(&db, &["seed", "claims", "--cases", "40"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("seeded 4 teams, 8 users, 40 cases"),
        "{}",
        text(&o)
    );
    let o = custodian(&db, &["seed", "claims", "--cases", "40"]);
    assert!(text(&o).contains("already present"), "{}", text(&o));
    let o = custodian(&db, &["snapshot", "claims"]);
    assert!(o.status.success(), "{}", text(&o));
    let snap: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(snap["figures"]["total_cases"], 40);
    let by_status: u64 = snap["figures"]["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_status, 40);
    assert_eq!(
        snap["figures"]["sla_breaches_by_team"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Every seeded row was audited, and the chain holds.
    assert!(custodian(&db, &["audit", "verify"]).status.success());
}

async fn seed_trials_then_rotate(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    let media = std::env::temp_dir().join(format!("custodian-cli-media-{}", uuid::Uuid::now_v7()));
    let media_env = media.to_string_lossy().into_owned();
    let env = [("CUSTODIAN_MEDIA_DIR", media_env.as_str())];
    let o = custodian_with(
        &db,
        &["seed", "trials"],
        &[env[0], ("CUSTODIAN_PEPPER", "")],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("CUSTODIAN_PEPPER"), "{}", text(&o));
    let o = custodian_with(&db, &["seed", "trials"], &env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3 participants, 2 appointments, 1 ride(s)"),
        "{}",
        text(&o)
    );
    let wav = std::fs::read(media.join("demo/call-1.wav")).unwrap();
    assert!(wav.starts_with(b"RIFF") && wav.len() > 44);
    let o = custodian_with(&db, &["seed", "trials"], &env);
    assert!(text(&o).contains("already present"), "{}", text(&o));
    // The participants' mary_ids are registered for rotation.
    let rotate_env = [
        (
            "CUSTODIAN_PEPPER",
            "a brand new pepper for version two, long enough",
        ),
        ("CUSTODIAN_PEPPER_VERSION", "v2"),
        ("CUSTODIAN_PEPPER_PREVIOUS", TEST_PEPPER),
    ];
    let o = custodian_with(&db, &["pseudonyms", "rotate", "--to", "v2"], &rotate_env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("trials_participants: 3 id(s) re-keyed to v2"),
        "{}",
        text(&o)
    );
    assert!(custodian(&db, &["audit", "verify"]).status.success());
    std::fs::remove_dir_all(&media).ok();
}

async fn seed_analytics_once(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    let o = custodian(&db, &["seed", "analytics"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "analytics: seeded 400 patient_journeys, 400 ml_predictions, 100 ml_annotations"
        ),
        "{}",
        text(&o)
    );
    let o = custodian(&db, &["seed", "analytics"]);
    assert!(text(&o).contains("already present"), "{}", text(&o));
    assert!(custodian(&db, &["audit", "verify"]).status.success());
    // Other split ratios than the patients were assigned with are refused.
    let toml = std::env::temp_dir().join(format!("custodian-splits-{}.toml", uuid::Uuid::now_v7()));
    std::fs::write(
        &toml,
        "[splits]\ntrain = 0.5\nvalidation = 0.3\ntest = 0.15\nholdout = 0.05\n",
    )
    .unwrap();
    let path = toml.to_string_lossy().into_owned();
    let o = custodian_with(&db, &["seed", "analytics"], &[("CUSTODIAN_CONFIG", &path)]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("0.600000,0.200000,0.150000,0.050000"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(&toml).ok();
}

async fn acoustics_verify_files(db: TestDb) {
    assert!(custodian(&db, &["init"]).status.success());
    let media = std::env::temp_dir().join(format!("custodian-cli-media-{}", uuid::Uuid::now_v7()));
    let media_env = media.to_string_lossy().into_owned();
    let env = [("CUSTODIAN_FILES_DIR", media_env.as_str())];
    let o = custodian_with(&db, &["seed", "acoustics"], &env);
    assert!(o.status.success(), "{}", text(&o));
    let o = custodian_with(&db, &["acoustics", "verify-files"], &env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("16 ok, 0 changed, 0 missing"),
        "{}",
        text(&o)
    );
    let root = media.join("acoustics");
    std::fs::write(root.join("1011/sit_to_stand_sync.pkl"), b"edited").unwrap();
    std::fs::remove_file(root.join("1012/walk_normal_p1_audio.pkl")).unwrap();
    let o = custodian_with(&db, &["acoustics", "verify-files", "--json"], &env);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            r["ok"].as_u64(),
            r["changed"].as_u64(),
            r["missing"].as_u64()
        ),
        (Some(14), Some(1), Some(1))
    );
    let o = custodian_with(&db, &["acoustics", "verify-files"], &env);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("missing: 1012/walk_normal_p1_audio.pkl"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("changed: 1011/sit_to_stand_sync.pkl"),
        "{}",
        text(&o)
    );
    let o = custodian_with(&db, &["acoustics", "--help"], &env);
    assert!(text(&o).contains("verify-files"), "{}", text(&o));
    std::fs::remove_dir_all(&media).ok();
}

/// `custodian bench --scale 0.01`: every workload runs and its check, computed
/// from the database afterwards, is ok. No timing is asserted.
async fn bench_smoke(db: TestDb) {
    let o = custodian(&db, &["bench", "--scale", "0.01", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l["workload"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["W1", "W2", "W3", "W4", "W4-verify"]);
    for l in &lines {
        assert_eq!(l["check"], "ok", "{l}");
        assert_eq!(l["system"], "custodian");
        assert!(l["ops"].as_u64().unwrap() > 0, "{l}");
    }
    assert_eq!(lines[0]["ops"], 500);
}

async fn disabled_module(db: TestDb) {
    let only_claims = [("CUSTODIAN_MODULES", "claims")];
    let o = custodian_with(&db, &["init"], &only_claims);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("trials"), "{}", text(&o));
    let o = custodian_with(&db, &["modules"], &only_claims);
    let listed = text(&o);
    assert!(o.status.success(), "{listed}");
    let line = |name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {listed}"))
            .to_owned()
    };
    assert!(line("claims").contains(" yes ") && line("claims").contains("claims_cases"));
    assert!(line("trials").contains(" no ") && line("trials").contains("trials_participants"));
    assert!(line("analytics").contains(" no "), "{listed}");
    let o = custodian_with(&db, &["seed", "trials"], &only_claims);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("module trials is not enabled"),
        "{}",
        text(&o)
    );
    let o = custodian_with(&db, &["keys", "roles"], &only_claims);
    let roles = text(&o);
    assert!(
        roles.contains("claims") && !roles.contains("trials"),
        "{roles}"
    );
    assert!(
        !roles.contains("agent_reasoning") && !roles.contains("analytics"),
        "{roles}"
    );
    // Enabling every module later applies the rest; disabling again still serves.
    assert!(custodian(&db, &["init"]).status.success());
    let o = custodian_with(&db, &["check"], &only_claims);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("module not enabled"), "{}", text(&o));
}

#[test]
fn an_unknown_module_stops_every_command_naming_the_known_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_custodian"))
        .arg("check")
        .env("CUSTODIAN_DATABASE_URL", "sqlite://x.db")
        .env("CUSTODIAN_MODULES", "claims,billing")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("\"billing\""), "{said}");
    assert!(said.contains("claims, trials, analytics"), "{said}");
    assert!(said.contains("CUSTODIAN_MODULES"), "{said}");
}

#[test]
fn modules_lists_every_built_module_with_its_routes() {
    let out = Command::new(env!("CARGO_BIN_EXE_custodian"))
        .arg("modules")
        .env("CUSTODIAN_DATABASE_URL", "sqlite://x.db")
        .env_remove("CUSTODIAN_MODULES")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listed = text(&out);
    for name in ["claims", "trials", "analytics"] {
        let line = listed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {listed}"));
        let routes: usize = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(line.contains(" yes ") && routes > 0, "{line}");
    }
}
