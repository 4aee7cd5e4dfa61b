//! The `[export]` settings the core reads itself: the export's own key and
//! how many HTTP exports stream at once. The profiles stay in the section
//! for `custodian-export`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use std::time::Duration;

use custodian_core::Config;

const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn an_export_key_reads_as_hex_or_base64_from_either_place_and_never_prints() {
    let from_env = Config::from_toml("", env(&[("CUSTODIAN_EXPORT_KEY", HEX)])).unwrap();
    let key = from_env
        .export_key
        .clone()
        .expect("the key from the environment");
    let b64 = base64::engine::general_purpose::STANDARD.encode(key.expose());
    let file = format!("[export]\nkey = \"{b64}\"\n[export.profiles.study]\nshift_days = 30\n");
    let from_file = Config::from_toml(&file, env(&[])).unwrap();
    assert_eq!(from_file.export_key, from_env.export_key);
    assert_eq!(
        from_file.source_of("export.key"),
        "custodian.toml export.key"
    );
    // The profiles are left for custodian-export, without the key.
    let section = from_file.export.clone().unwrap();
    assert!(section.contains_key("profiles") && !section.contains_key("key"));

    let path = std::env::temp_dir().join(format!("export-key-{}", std::process::id()));
    std::fs::write(&path, format!("{HEX}\n")).unwrap();
    let from_path = Config::from_toml(
        &file,
        env(&[("CUSTODIAN_EXPORT_KEY_FILE", path.to_str().unwrap())]),
    )
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        from_path.export_key, from_env.export_key,
        "the environment wins"
    );

    for c in [&from_env, &from_file] {
        let shown = format!("{c:?} {:?}", c.describe());
        assert!(!shown.contains(HEX) && !shown.contains(&b64), "{shown}");
        let described = c.describe();
        let (_, v) = described.iter().find(|(k, _)| k == "export.key").unwrap();
        assert_eq!(v, "***");
    }
    let unset = Config::from_toml("", env(&[])).unwrap();
    assert!(unset.export_key.is_none());
}

#[test]
fn a_bad_export_key_is_refused_without_its_value() {
    for bad in ["c2hvcnQ=", "not a key at all", &HEX[..62]] {
        let e = Config::from_toml("", env(&[("CUSTODIAN_EXPORT_KEY", bad)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CUSTODIAN_EXPORT_KEY"), "{e}");
        assert!(!e.contains(bad), "the error shows the value: {e}");
    }
    let e = Config::from_toml("[export]\nkey = 7\n", env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("export.key"), "{e}");
}

#[test]
fn max_concurrent_defaults_to_two_and_is_at_least_one() {
    assert_eq!(
        Config::from_toml("", env(&[]))
            .unwrap()
            .export_limits
            .max_concurrent,
        2
    );
    let c = Config::from_toml("[export]\nmax_concurrent = 5\n", env(&[])).unwrap();
    assert_eq!(c.export_limits.max_concurrent, 5);
    let c = Config::from_toml(
        "[export]\nmax_concurrent = 5\n",
        env(&[("CUSTODIAN_EXPORT_MAX_CONCURRENT", "1")]),
    )
    .unwrap();
    assert_eq!(c.export_limits.max_concurrent, 1, "the environment wins");
    for bad in ["0", "1001", "two"] {
        assert!(
            Config::from_toml("", env(&[("CUSTODIAN_EXPORT_MAX_CONCURRENT", bad)])).is_err(),
            "{bad}"
        );
    }
    assert!(Config::from_toml("[export]\nmax_concurrent = \"x\"\n", env(&[])).is_err());
}

#[test]
fn per_principal_and_stall_timeout_default_to_one_and_30s_and_are_bounded() {
    let c = Config::from_toml("", env(&[])).unwrap().export_limits;
    assert_eq!(c.max_per_principal, 1);
    assert_eq!(c.stall_timeout, Duration::from_secs(30));
    let file = "[export]\nmax_concurrent = 4\nmax_per_principal = 2\nstall_timeout = \"5s\"\n";
    let c = Config::from_toml(file, env(&[])).unwrap();
    assert_eq!(c.export_limits.max_per_principal, 2);
    assert_eq!(c.export_limits.stall_timeout, Duration::from_secs(5));
    assert_eq!(
        c.source_of("export.stall_timeout"),
        "custodian.toml export.stall_timeout"
    );
    assert!(
        c.describe()
            .contains(&("export.stall_timeout".into(), "5s".into()))
    );
    let c = Config::from_toml(
        file,
        env(&[
            ("CUSTODIAN_EXPORT_MAX_PER_PRINCIPAL", "3"),
            ("CUSTODIAN_EXPORT_STALL_TIMEOUT", "2m"),
        ]),
    )
    .unwrap();
    assert_eq!(c.export_limits.max_per_principal, 3, "the environment wins");
    assert_eq!(c.export_limits.stall_timeout, Duration::from_secs(120));
    assert_eq!(
        c.source_of("export.max_per_principal"),
        "CUSTODIAN_EXPORT_MAX_PER_PRINCIPAL"
    );
    // No more per key than in all, at least one, and a stall of 1s to 10m.
    for (var, bad) in [
        ("CUSTODIAN_EXPORT_MAX_PER_PRINCIPAL", "0"),
        ("CUSTODIAN_EXPORT_MAX_PER_PRINCIPAL", "3"),
        ("CUSTODIAN_EXPORT_MAX_PER_PRINCIPAL", "x"),
        ("CUSTODIAN_EXPORT_STALL_TIMEOUT", "0"),
        ("CUSTODIAN_EXPORT_STALL_TIMEOUT", "500ms"),
        ("CUSTODIAN_EXPORT_STALL_TIMEOUT", "11m"),
        ("CUSTODIAN_EXPORT_STALL_TIMEOUT", "soon"),
    ] {
        let e = Config::from_toml("", env(&[(var, bad)]));
        assert!(e.is_err(), "{var}={bad}");
    }
    assert!(Config::from_toml("[export]\nstall_timeout = 5\n", env(&[])).is_err());
}
