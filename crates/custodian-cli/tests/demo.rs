//! `serve --demo` across a restart: same data, same pepper, same key, and
//! nothing outside its folder.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use common::{Server, body_json, http};

/// `custodian` in `dir` with nothing configured from outside.
fn custodian(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custodian"));
    cmd.current_dir(dir).env("CUSTODIAN_LOG", "warn");
    for var in [
        "CUSTODIAN_DATABASE_URL",
        "DATABASE_URL",
        "CUSTODIAN_CONFIG",
        "CUSTODIAN_PEPPER",
        "CUSTODIAN_PEPPER_FILE",
        "CUSTODIAN_KEK",
        "CUSTODIAN_KEK_FILE",
        "CUSTODIAN_MEDIA_DIR",
        "CUSTODIAN_MODULES",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn demo(dir: &Path, extra: &[&str]) -> Server {
    let mut cmd = custodian(dir);
    cmd.args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stderr(std::process::Stdio::null());
    Server::spawn(cmd)
}

/// The key `serve --demo` printed.
fn printed_key(seen: &str) -> String {
    let line = seen
        .lines()
        .find(|l| l.starts_with("admin key ("))
        .unwrap_or_else(|| panic!("no admin key line in: {seen}"));
    line.rsplit(' ').next().unwrap().to_owned()
}

/// How many entries the chain holds, as `audit verify` counts them.
fn chain_entries(dir: &Path) -> u64 {
    let out = custodian(dir)
        .args(["--database-url", "sqlite://custodian-demo/custodian.db"])
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

const MARIA: &str = r#"{"first_name":"Maria","last_name":"Lopez","date_of_birth":"1965-05-17","contact_consent":true}"#;

/// Maria, written another way.
const LOOKUP: &str = r#"{"first_name":"MARIA ","last_name":"lopez","date_of_birth":"1965-05-17"}"#;

#[test]
fn a_restarted_demo_answers_as_before_with_the_same_key_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("custodian-demo-test-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();

    let first = demo(&dir, &[]);
    let key = printed_key(&first.seen);
    assert!(first.seen.contains("(demo-admin, new)"), "{}", first.seen);
    let resp = http(
        &first.addr,
        "POST",
        "/v1/trials/participants",
        Some(&key),
        MARIA,
    );
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let maria = body_json(&resp);
    let (ok, _) = first.stop();
    assert!(ok);
    let before = chain_entries(&dir);

    let second = demo(&dir, &[]);
    assert_eq!(printed_key(&second.seen), key, "{}", second.seen);
    assert!(
        second.seen.contains("the same as before"),
        "{}",
        second.seen
    );
    // The same person under the kept pepper: the same mary_id, found by lookup.
    let resp = http(
        &second.addr,
        "POST",
        "/v1/trials/participants/lookup",
        Some(&key),
        LOOKUP,
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(body_json(&resp)["id"], maria["id"]);
    assert_eq!(body_json(&resp)["mary_id"], maria["mary_id"]);
    let keys = http(&second.addr, "GET", "/v1/events?limit=1", Some(&key), "");
    assert!(keys.starts_with("HTTP/1.1 200"), "{keys}");
    let (ok, _) = second.stop();
    assert!(ok);
    // The restart wrote nothing: the lookup is the one new entry (a recorded read).
    assert_eq!(chain_entries(&dir), before + 1);
    let listed = custodian(&dir)
        .args(["--database-url", "sqlite://custodian-demo/custodian.db"])
        .args(["keys", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(listed.matches("demo-admin").count(), 1, "{listed}");

    // Everything the demo made is in its folder; secrets are the owner's only.
    let all = files(&dir);
    assert!(
        all.iter().all(|p| p.starts_with("custodian-demo")),
        "{all:?}"
    );
    for must in [
        "custodian-demo/custodian.db",
        "custodian-demo/pepper",
        "custodian-demo/admin.key",
    ] {
        assert!(
            all.contains(&PathBuf::from(must)),
            "{must} missing from {all:?}"
        );
    }
    assert!(
        all.iter().any(|p| p.starts_with("custodian-demo/media")),
        "{all:?}"
    );
    #[cfg(unix)]
    for secret in ["pepper", "admin.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("custodian-demo").join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }

    // A lost pepper with the data still there is refused, not replaced.
    std::fs::remove_file(dir.join("custodian-demo/pepper")).unwrap();
    let out = custodian(&dir)
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        said.contains("is missing but the demo database is there"),
        "{said}"
    );
    // The folder is its owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("custodian-demo"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    // --fresh starts over: a new key, and the participant is gone.
    let fresh = demo(&dir, &["--fresh"]);
    let new_key = printed_key(&fresh.seen);
    assert_ne!(new_key, key);
    let resp = http(&fresh.addr, "GET", "/v1/events?limit=1", Some(&key), "");
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    let resp = http(
        &fresh.addr,
        "POST",
        "/v1/trials/participants/lookup",
        Some(&new_key),
        LOOKUP,
    );
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(fresh.stop().0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fresh_refuses_a_folder_the_demo_did_not_make_and_a_configured_database() {
    let dir = std::env::temp_dir().join(format!("custodian-demo-test-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("custodian-demo")).unwrap();
    std::fs::write(dir.join("custodian-demo/notes.txt"), "mine").unwrap();
    let out = custodian(&dir)
        .args(["serve", "--demo", "--fresh", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(text.contains("was not made by `serve --demo`"), "{text}");
    assert!(dir.join("custodian-demo/notes.txt").exists());

    let out = custodian(&dir)
        .args(["--database-url", "sqlite://other.db"])
        .args(["serve", "--demo", "--fresh", "--demo-dir", "elsewhere"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        text.contains("the database is configured (--database-url)"),
        "{text}"
    );
    assert!(!dir.join("elsewhere").exists() && !dir.join("other.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
