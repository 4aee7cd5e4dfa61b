//! De-identification: nothing a module calls a direct identifier, free
//! text, a stored id or a full date reaches a `safe_harbor` file; date
//! shifts keep intervals within a subject and are the same in every file;
//! fields a profile does not name are dropped and listed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use common::{env, export_file, modules, ndjson, seed_rest, seeded};
use custodian_core::testing::TestDb;
use custodian_export::{Format, Plan, Profile, Profiles, profile::unmentioned};
use custodian_module::export::{Class, ExportResource, ValueType};
use serde_json::Value;

custodian_core::backend_tests! {
    no_identifier_of_seeded_data_appears_anywhere_in_a_safe_harbor_export => safe_harbor_bytes,
    date_shifts_keep_intervals_within_a_subject_and_are_stable_across_exports => shifts,
    a_subject_born_in_1920_leaves_no_1920_in_a_safe_harbor_export => born_1920,
    an_export_key_of_its_own_keys_pseudonyms_apart_from_the_pepper => export_key,
    therapy_sentences_and_insights_shift_by_their_client_across_sessions => by_client,
}

/// The values of `row` whose field `resource` classes as identifying, as
/// text long enough to search for without matching by chance.
fn identifying(resource: &ExportResource, row: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for f in &resource.fields {
        let risky = matches!(
            f.class,
            Some(
                Class::Direct
                    | Class::FreeText
                    | Class::Key
                    | Class::Pseudonym
                    | Class::Date
                    | Class::BirthDate
            )
        ) || f.class.is_none();
        if !risky {
            continue;
        }
        let v = match row.get(f.name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => continue,
            Some(other) => other.to_string(),
        };
        let v = if f.ty == ValueType::Timestamp {
            // An instant is searched for down to the day, as Safe Harbor asks.
            v.chars().take(10).collect()
        } else {
            v
        };
        if v.len() >= 4 && !v.bytes().all(|b| b.is_ascii_digit()) {
            out.push(v);
        }
    }
    out
}

async fn safe_harbor_bytes(db: TestDb) {
    let _app = seeded(&db).await;
    seed_rest(&db).await;
    let env = env(None);
    let mods = modules();
    let mut checked = 0;
    let mut searched = BTreeSet::new();
    for m in mods.enabled() {
        for r in m.exports() {
            let (raw, n) =
                export_file(&db, &env, m.name(), r.name, Format::Ndjson, None, &[]).await;
            if n == 0 {
                continue;
            }
            searched.insert(format!("{}/{}", m.name(), r.name));
            let secrets: BTreeSet<String> = ndjson(&std::fs::read(&raw).unwrap())
                .iter()
                .flat_map(|row| identifying(&r, row))
                .collect();
            for format in [Format::Csv, Format::Ndjson] {
                let (path, rows) = export_file(
                    &db,
                    &env,
                    m.name(),
                    r.name,
                    format,
                    Some("safe_harbor"),
                    &[],
                )
                .await;
                assert_eq!(rows, n, "{}/{}: the same rows", m.name(), r.name);
                let bytes = std::fs::read(&path).unwrap();
                for s in &secrets {
                    assert!(
                        !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                        "{}/{} {}: {s:?} appears in the safe_harbor file",
                        m.name(),
                        r.name,
                        format.as_str()
                    );
                }
                let _ = std::fs::remove_file(path);
            }
            checked += secrets.len();
            let _ = std::fs::remove_file(raw);
        }
    }
    // The seeds hold names, e-mails, notes, transcripts and dates: the
    // search above must have had something to look for.
    assert!(checked > 100, "only {checked} identifying values searched");
    for r in [
        "acoustics/synchronizations",
        "acoustics/movement_cycles",
        "trials/agent_reasoning",
        "claims/documents",
        "claims/triage_results",
        "analytics/user_sessions",
        "therapy/insights",
        "therapy/client_profiles",
    ] {
        assert!(searched.contains(r), "{r} had no seeded rows to search");
    }
}

/// The file without its export pseudonyms (`ex_` and 32 hex digits: keyed
/// hashes, whose digits may spell anything by chance).
fn without_pseudonyms(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hash = bytes
            .get(i..i + 35)
            .is_some_and(|w| w.starts_with(b"ex_") && w[3..].iter().all(|b| b.is_ascii_hexdigit()));
        if hash {
            i += 35;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

async fn born_1920(db: TestDb) {
    use custodian_trials::repo::{NewParticipant, create_participant};
    let _app = seeded(&db).await;
    let old = create_participant(
        &db.store,
        &custodian_ledger::audit::Actor::system(),
        &custodian_server::testing::test_pseudonymizer(),
        NewParticipant {
            first_name: "Edith".into(),
            last_name: "Oldfield".into(),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1920, 3, 4).unwrap(),
            phone: None,
            email: None,
            preferred_channel: None,
            preferred_language: None,
            contact_consent: false,
            research_consent: None,
        },
    )
    .await
    .unwrap();
    let env = env(None);
    let (raw, _) = export_file(&db, &env, "trials", "participants", Format::Csv, None, &[]).await;
    let raw = std::fs::read(&raw).unwrap();
    assert!(
        raw.windows(4).any(|w| w == b"1920"),
        "the raw file holds the birth year the profile must remove"
    );
    for format in [Format::Csv, Format::Ndjson] {
        let (path, _) = export_file(
            &db,
            &env,
            "trials",
            "participants",
            format,
            Some("safe_harbor"),
            &[],
        )
        .await;
        let bytes = std::fs::read(&path).unwrap();
        let plain = without_pseudonyms(&bytes);
        assert!(
            !plain.windows(4).any(|w| w == b"1920"),
            "{}: 1920 appears: {}",
            format.as_str(),
            String::from_utf8_lossy(&plain)
        );
        if format == Format::Ndjson {
            let rows = ndjson(&bytes);
            let bands: BTreeSet<&str> = rows
                .iter()
                .map(|r| r["date_of_birth"].as_str().unwrap())
                .collect();
            assert!(bands.contains("90+"), "{bands:?}");
            // Younger people keep their birth year.
            assert!(
                bands.iter().any(|b| b.len() == 4 && b.starts_with("19")),
                "{bands:?}"
            );
        }
        let _ = std::fs::remove_file(path);
    }
    // Parquet too: the column is text holding the year or 90+.
    let (pq, _) = export_file(
        &db,
        &env,
        "trials",
        "participants",
        Format::Parquet,
        Some("safe_harbor"),
        &[],
    )
    .await;
    let bytes = std::fs::read(&pq).unwrap();
    assert!(!without_pseudonyms(&bytes).windows(4).any(|w| w == b"1920"));
    let _ = (std::fs::remove_file(pq), old);
}

/// An environment with no pepper, only an export key of `byte` repeated.
fn keyed(byte: u8) -> custodian_module::Env {
    let hex = format!("{byte:02x}").repeat(32);
    let config = custodian_core::Config {
        export_key: Some(custodian_core::seal::ConfigKey::parse(&hex, "test").unwrap()),
        ..Default::default()
    };
    custodian_module::Env::new(config, custodian_privacy::splits::SplitConfig::default())
}

async fn export_key(db: TestDb) {
    let _app = seeded(&db).await;
    let ids = |env: custodian_module::Env| {
        let db = &db;
        async move {
            let (p, _) = export_file(
                db,
                &env,
                "trials",
                "participants",
                Format::Ndjson,
                Some("safe_harbor"),
                &[],
            )
            .await;
            let rows = ndjson(&std::fs::read(&p).unwrap());
            let _ = std::fs::remove_file(p);
            rows.iter()
                .map(|r| r["mary_id"].as_str().unwrap().to_owned())
                .collect::<BTreeSet<_>>()
        }
    };
    let a = ids(keyed(1)).await;
    assert!(!a.is_empty());
    assert!(a.iter().all(|p| p.starts_with("ex_")), "{a:?}");
    assert_eq!(ids(keyed(1)).await, a, "the same key, the same pseudonyms");
    let b = ids(keyed(2)).await;
    assert!(
        a.is_disjoint(&b),
        "another key, other pseudonyms: {a:?} {b:?}"
    );
    let pepper = ids(env(None)).await;
    assert!(
        a.is_disjoint(&pepper),
        "the export key replaces the pepper's export keys"
    );
}

const SHIFTED: &str = r#"
[profiles.shifted]
shift_days = 30
[profiles.shifted.fields."trials.participants"]
id = "keep"
created_at = "shift_date"
date_of_birth = "shift_date"
[profiles.shifted.fields."trials.appointments"]
id = "keep"
participant_id = "keep"
scheduled_at = "shift_date"
created_at = "shift_date"
"#;

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn shifts(db: TestDb) {
    let _app = seeded(&db).await;
    let env = env(Some(SHIFTED));
    let read = |p: &std::path::Path| ndjson(&std::fs::read(p).unwrap());
    let by_id = |rows: Vec<serde_json::Map<String, Value>>| {
        rows.into_iter()
            .map(|r| (r["id"].as_str().unwrap().to_owned(), r))
            .collect::<BTreeMap<_, _>>()
    };
    let export = |resource: &'static str, profile: Option<&'static str>| {
        let (db, env) = (&db, &env);
        async move {
            let (p, _) =
                export_file(db, env, "trials", resource, Format::Ndjson, profile, &[]).await;
            by_id(read(&p))
        }
    };
    let raw_people = export("participants", None).await;
    let raw_visits = export("appointments", None).await;
    let people = export("participants", Some("shifted")).await;
    let visits = export("appointments", Some("shifted")).await;
    assert!(!visits.is_empty() && !people.is_empty());

    // Each participant's offset, from their own row...
    let mut offset: BTreeMap<String, i64> = BTreeMap::new();
    for (id, p) in &people {
        let d = (instant(&p["created_at"]) - instant(&raw_people[id]["created_at"])).num_days();
        assert!((-30..=30).contains(&d), "{d} days is outside +/-30");
        let dob =
            |v: &Value| chrono::NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert_eq!(
            (dob(&p["date_of_birth"]) - dob(&raw_people[id]["date_of_birth"])).num_days(),
            d,
            "one subject, one offset"
        );
        offset.insert(id.clone(), d);
    }
    assert!(
        offset.values().collect::<BTreeSet<_>>().len() > 1 || offset.len() < 3,
        "every subject moved alike: {offset:?}"
    );
    // ...is the offset of every date about them in another file, so
    // intervals within a subject survive.
    for (id, v) in &visits {
        let raw = &raw_visits[id];
        let who = v["participant_id"].as_str().unwrap();
        let d = offset[who];
        assert_eq!(
            (instant(&v["scheduled_at"]) - instant(&raw["scheduled_at"])).num_days(),
            d
        );
        assert_eq!(
            instant(&v["scheduled_at"]) - instant(&v["created_at"]),
            instant(&raw["scheduled_at"]) - instant(&raw["created_at"]),
            "the interval within the subject is kept"
        );
    }
    // A second export shifts the same way.
    assert_eq!(export("appointments", Some("shifted")).await, visits);
    // Fields the profile does not name are not there.
    let any = people.values().next().unwrap();
    assert!(
        any.get("first_name").is_none() && any.get("email").is_none(),
        "{any:?}"
    );
}

#[test]
fn a_field_no_profile_names_is_dropped_and_check_profile_lists_it() {
    let trials = modules()
        .enabled()
        .iter()
        .find(|m| m.name() == "trials")
        .copied()
        .unwrap();
    let mut participants = trials
        .exports()
        .into_iter()
        .find(|r| r.name == "participants")
        .unwrap();
    // A column added to the table later: in the rows, classified by no one.
    for f in participants.fields.iter_mut() {
        if f.name == "preferred_language" {
            f.class = None;
        }
    }
    let sh = Profile::safe_harbor();
    let plan = Plan::of(&sh, "trials", &participants).unwrap();
    let names: Vec<&str> = plan.columns.iter().map(|c| c.name).collect();
    assert!(!names.contains(&"preferred_language"), "{names:?}");
    assert!(names.contains(&"preferred_channel"), "{names:?}");
    let missing: Vec<&str> = unmentioned(&sh, "trials", &participants)
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(missing, ["preferred_language"]);

    // A profile of its own keeps only what it names.
    let t: toml::Table = toml::from_str(
        "[profiles.few.fields.\"trials.participants\"]\nresearch_consent = \"keep\"\n",
    )
    .unwrap();
    let few = Profiles::from_config(Some(&t)).unwrap();
    let plan = Plan::of(few.get("few").unwrap(), "trials", &participants).unwrap();
    assert_eq!(plan.columns.len(), 1);
    assert_eq!(
        unmentioned(few.get("few").unwrap(), "trials", &participants).len(),
        participants.fields.len() - 1
    );
}

#[test]
fn every_field_of_every_exported_resource_is_classified() {
    for m in modules().enabled() {
        for r in m.exports() {
            r.source
                .check(&[])
                .unwrap_or_else(|e| panic!("{}/{}: {e}", m.name(), r.name));
            for f in &r.fields {
                assert!(
                    f.class.is_some(),
                    "{}.{}.{} has no class",
                    m.name(),
                    r.name,
                    f.name
                );
            }
        }
    }
}

#[test]
fn a_profile_naming_a_missing_field_or_a_wrong_action_is_refused() {
    let trials = modules()
        .enabled()
        .iter()
        .find(|m| m.name() == "trials")
        .copied()
        .unwrap();
    let participants = trials
        .exports()
        .into_iter()
        .find(|r| r.name == "participants")
        .unwrap();
    for bad in [
        "[profiles.p.fields.\"trials.participants\"]\nnickname = \"keep\"\n",
        "[profiles.p.fields.\"trials.participants\"]\nemail = \"shift_date\"\n",
        "[profiles.p.fields.\"trials.participants\"]\ncontact_consent = \"generalize\"\n",
    ] {
        let t: toml::Table = toml::from_str(bad).unwrap();
        let p = Profiles::from_config(Some(&t)).unwrap();
        assert!(
            Plan::of(p.get("p").unwrap(), "trials", &participants).is_err(),
            "{bad}"
        );
    }
}

const THERAPY_SHIFTED: &str = r#"
[profiles.shifted]
shift_days = 30
[profiles.shifted.fields."therapy.clients"]
id = "keep"
created_at = "shift_date"
[profiles.shifted.fields."therapy.sessions"]
id = "keep"
client_id = "keep"
date = "shift_date"
[profiles.shifted.fields."therapy.sentences"]
id = "keep"
session_id = "keep"
created_at = "shift_date"
[profiles.shifted.fields."therapy.insights"]
id = "keep"
session_id = "keep"
created_at = "shift_date"
"#;

async fn by_client(db: TestDb) {
    let _app = seeded(&db).await;
    let env = env(Some(THERAPY_SHIFTED));
    let export = |resource: &'static str, profile: Option<&'static str>| {
        let (db, env) = (&db, &env);
        async move {
            let (p, _) =
                export_file(db, env, "therapy", resource, Format::Ndjson, profile, &[]).await;
            ndjson(&std::fs::read(p).unwrap())
                .into_iter()
                .map(|r| (r["id"].as_str().unwrap().to_owned(), r))
                .collect::<BTreeMap<_, _>>()
        }
    };
    // Each client's offset, from their own row; each session's client.
    let (raw_clients, clients) = (
        export("clients", None).await,
        export("clients", Some("shifted")).await,
    );
    let offset: BTreeMap<&str, i64> = clients
        .iter()
        .map(|(id, c)| {
            let d = instant(&c["created_at"]) - instant(&raw_clients[id]["created_at"]);
            (id.as_str(), d.num_days())
        })
        .collect();
    assert!(
        offset.values().collect::<BTreeSet<_>>().len() > 1,
        "every client moved alike: {offset:?}"
    );
    let sessions = export("sessions", Some("shifted")).await;
    let client_of = |session: &Value| -> &str {
        sessions[session.as_str().unwrap()]["client_id"]
            .as_str()
            .unwrap()
    };
    for resource in ["sentences", "insights"] {
        let (raw, shifted) = (
            export(resource, None).await,
            export(resource, Some("shifted")).await,
        );
        assert_eq!(raw.len(), shifted.len());
        // Every row moves by its client's offset, whichever session it is of...
        let mut per_client: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, row) in &shifted {
            let client = client_of(&row["session_id"]);
            let d = instant(&row["created_at"]) - instant(&raw[id]["created_at"]);
            assert_eq!(d.num_days(), offset[client], "{resource} {id}");
            assert_eq!(d, chrono::Duration::days(offset[client]), "whole days");
            per_client.entry(client).or_default().push(id);
        }
        // ...so the interval between two rows of one client in two of
        // their sessions is kept.
        let mut across = 0;
        for ids in per_client.values() {
            for (a, b) in ids.iter().zip(ids.iter().skip(1)) {
                let (ra, rb) = (&shifted[*a], &shifted[*b]);
                if ra["session_id"] == rb["session_id"] {
                    continue;
                }
                across += 1;
                assert_eq!(
                    instant(&ra["created_at"]) - instant(&rb["created_at"]),
                    instant(&raw[*a]["created_at"]) - instant(&raw[*b]["created_at"]),
                    "{resource}: the interval across sessions of one client"
                );
            }
        }
        assert!(
            across > 0,
            "the seed gives a client {resource} in two sessions"
        );
        // The client id the shift read is no column of the file.
        assert!(shifted.values().all(|r| r.get("client_id").is_none()));
    }
}
