//! Erasing an analytics patient on both backends: their text id, journey
//! stage, times, score and label gone from every table (and the SQLite
//! file), the rows' aggregate figures kept; their stored keyed answer
//! reading erased; a second erasure a 409, an unknown patient a 404, a
//! non-admin refused on record; every write naming them refused after;
//! the chain verifying before and after; a patient left with only a
//! sealed answer erased; ids bounded by characters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use axum::http::StatusCode;
use custodian_analytics::import::{self, Format, Load, Table};
use custodian_core::testing::TestDb;
use custodian_ledger::audit::Actor;
use custodian_module::Modules;
use custodian_privacy::{access::Role, splits::SplitConfig};
use custodian_server::testing::{Client, TestApp};
use serde_json::{Value, json};

custodian_core::backend_tests! {
    an_erased_analytics_patient_leaves_no_personal_byte_behind => erase_patient,
    writes_naming_an_erased_analytics_patient_are_refused => erased_writes,
    a_patient_known_only_by_a_sealed_answer_is_erased_and_ids_count_characters => key_only,
}

const PATIENT: &str = "PT-Zephyrine-4411";
const OTHER: &str = "PT-Other-0001";
const STAGE: &str = "zephyrine-stage-relapse";
const LABEL: &str = "zephyrine-label-nonadherent";
const WHEN: &str = "1999-12-31T23:58:00Z";

fn journey(patient: &str) -> Value {
    let (stage, when) = if patient == PATIENT {
        (STAGE, WHEN)
    } else {
        ("diagnosis", "2003-03-03T03:03:03Z")
    };
    json!({"patient_id": patient, "brand": "Remibrutinib", "journey_stage": stage,
           "data_source": "claims", "data_sources_matched": ["claims", "emr"],
           "source_timestamp": when, "ingestion_timestamp": "2000-01-02T00:00:00Z"})
}

fn prediction(patient: &str) -> Value {
    json!({"patient_id": patient, "model_id": "churn-v1", "prediction_score": 0.8731,
           "model_pr_auc": 0.5})
}

fn annotation(patient: &str) -> Value {
    json!({"patient_id": patient, "annotator_id": "annotator-1", "label": LABEL,
           "agreement_score": 0.7})
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The personal values a dump must not show after the erasure.
fn needles() -> [String; 4] {
    [
        PATIENT.to_lowercase(),
        STAGE.into(),
        LABEL.into(),
        "1999-12-31".into(),
    ]
}

fn erase_uri(patient: &str) -> String {
    format!("/v1/analytics/patients/{patient}/erase")
}

/// The app with analytics, an admin and a service client.
async fn app(db: &TestDb) -> (TestApp, Client, Client) {
    let t = TestApp::spawn(db, &Modules::all(&[custodian_analytics::MODULE])).await;
    let admin = t.client("admin", Role::Admin).await;
    let service = t.client("pipeline", Role::Service).await;
    (t, admin, service)
}

/// A keyed POST of a journey naming `patient`.
async fn keyed_journey(client: &Client, key: &str, patient: &str) -> (StatusCode, Value) {
    client
        .keyed(
            "/v1/analytics/patient_journeys",
            key,
            Some(journey(patient)),
        )
        .await
}

async fn erase_patient(db: TestDb) {
    let (t, admin, service) = app(&db).await;
    let (st, saved) = keyed_journey(&service, "journey-1", PATIENT).await;
    assert_eq!(st, StatusCode::CREATED, "{saved}");
    for (uri, body) in [
        ("/v1/analytics/ml_predictions", prediction(PATIENT)),
        ("/v1/analytics/ml_annotations", annotation(PATIENT)),
        ("/v1/analytics/patient_journeys", journey(OTHER)),
    ] {
        service
            .ok("POST", uri, Some(body), StatusCode::CREATED)
            .await;
    }
    let before = db.dump().await;
    for n in needles() {
        assert!(before.contains(&n), "the dump shows {n}");
    }
    let chain = custodian_ledger::audit::verify(t.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(chain.ok(), "{chain:?}");

    let body = json!({"reason": "consent_withdrawn"});
    service
        .ok(
            "POST",
            &erase_uri(PATIENT),
            Some(body.clone()),
            StatusCode::FORBIDDEN,
        )
        .await;
    let denied = admin
        .ok(
            "GET",
            "/v1/audit?action=eq.access_denied&actor=eq.pipeline",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(denied["items"].as_array().unwrap().len(), 1, "{denied}");
    assert!(db.dump().await.contains(STAGE), "a refusal erases nothing");

    let report = admin
        .ok(
            "POST",
            &erase_uri(PATIENT),
            Some(body.clone()),
            StatusCode::OK,
        )
        .await;
    let subject = custodian_analytics::erase::subject_id(PATIENT);
    assert_eq!(report["subject_type"], "analytics_patient", "{report}");
    assert_eq!(report["subject_id"], subject.to_string(), "{report}");
    for table in [
        "analytics_patient_journeys",
        "analytics_ml_predictions",
        "analytics_ml_annotations",
    ] {
        assert_eq!(report["rows"][table], 1, "{table}: {report}");
    }

    let after = db.dump().await;
    for n in needles() {
        assert!(!after.contains(&n), "{n} is still in the database");
    }
    assert!(
        after.contains(&OTHER.to_lowercase()),
        "another patient stays"
    );
    if let Some(bytes) = db.sqlite_file_bytes().await {
        for n in [PATIENT, STAGE, LABEL] {
            assert!(!holds(&bytes, n), "{n} is still in the SQLite file");
        }
    }
    // The stored answer of the keyed POST was sealed under their key.
    let (st, replayed) = keyed_journey(&service, "journey-1", PATIENT).await;
    assert_eq!(st, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, json!({"erased": true}));
    // The old id finds nothing; the row stays with its aggregate figures.
    for uri in [
        "/v1/analytics/patient_journeys",
        "/v1/analytics/ml_predictions",
        "/v1/analytics/ml_annotations",
    ] {
        let found = admin
            .ok(
                "GET",
                &format!("{uri}?patient_id=eq.{PATIENT}"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(found["items"].as_array().unwrap().len(), 0, "{found}");
    }
    let kept = admin
        .ok(
            "GET",
            &format!(
                "/v1/analytics/patient_journeys/{}",
                saved["id"].as_str().unwrap()
            ),
            None,
            StatusCode::OK,
        )
        .await;
    // A name made for the erasure, not derived from the patient's id.
    let marker = kept["patient_id"].as_str().unwrap().to_owned();
    assert!(marker.starts_with("erased_"), "{kept}");
    assert!(!marker.contains(&subject.to_string()), "{kept}");
    assert_eq!(kept["brand"], "Remibrutinib");
    assert_eq!(kept["data_sources_matched"], json!(["claims", "emr"]));
    assert_eq!(kept["split_assignment"], saved["split_assignment"]);
    assert_eq!(kept["journey_stage"], Value::Null);
    assert_eq!(kept["source_timestamp"], Value::Null);

    // The rows' new name is not a patient either: erasing it is a 409.
    admin
        .ok(
            "POST",
            &erase_uri(&marker),
            Some(body.clone()),
            StatusCode::CONFLICT,
        )
        .await;
    admin
        .ok(
            "POST",
            &erase_uri(PATIENT),
            Some(body.clone()),
            StatusCode::CONFLICT,
        )
        .await;
    admin
        .ok(
            "POST",
            &erase_uri("PT-Nobody-9999"),
            Some(body),
            StatusCode::NOT_FOUND,
        )
        .await;
    let entries = admin
        .ok(
            "GET",
            &format!("/v1/audit?action=eq.erase&entity_id=eq.{subject}"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(entries["items"].as_array().unwrap().len(), 1, "{entries}");
    let chain = custodian_ledger::audit::verify(t.store.conn(), None, |_| {})
        .await
        .unwrap();
    assert!(chain.ok(), "{chain:?}");
}

async fn erased_writes(db: TestDb) {
    let (t, admin, service) = app(&db).await;
    let mut ids = Vec::new();
    for (uri, body) in [
        ("/v1/analytics/patient_journeys", journey(PATIENT)),
        ("/v1/analytics/ml_predictions", prediction(PATIENT)),
        ("/v1/analytics/ml_annotations", annotation(PATIENT)),
    ] {
        let saved = service
            .ok("POST", uri, Some(body), StatusCode::CREATED)
            .await;
        ids.push(format!("{uri}/{}", saved["id"].as_str().unwrap()));
    }
    admin
        .ok(
            "POST",
            &erase_uri(PATIENT),
            Some(json!({"reason": "subject_request"})),
            StatusCode::OK,
        )
        .await;
    let writes: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/v1/analytics/patient_journeys".into(),
            journey(PATIENT),
        ),
        (
            "POST",
            "/v1/analytics/ml_predictions".into(),
            prediction(PATIENT),
        ),
        (
            "POST",
            "/v1/analytics/ml_annotations".into(),
            annotation(PATIENT),
        ),
        ("PATCH", ids[0].clone(), json!({"journey_stage": STAGE})),
        ("PATCH", ids[1].clone(), json!({"model_pr_auc": 0.9})),
        ("PATCH", ids[2].clone(), json!({"label": LABEL})),
    ];
    for (method, uri, body) in writes {
        let (st, p) = service.call(method, &uri, Some(body)).await;
        assert_eq!(st, StatusCode::CONFLICT, "{method} {uri}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("was erased"), "{p}");
    }
    // An id shaped like an erased patient's is not a patient's.
    let subject = custodian_analytics::erase::subject_id(PATIENT);
    let (st, p) = service
        .call(
            "POST",
            "/v1/analytics/patient_journeys",
            Some(journey(&format!("erased_{subject}"))),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    // So is a bulk load naming them: its batch is refused whole.
    let line = journey(PATIENT).to_string();
    let other = journey(OTHER).to_string();
    let loaded = import::import(
        &t.store,
        &Actor::system(),
        &SplitConfig::default(),
        &Load {
            table: Table::PatientJourneys,
            format: Format::Ndjson,
            source: "late-file",
            batch: 10,
        },
        format!("{other}\n{line}\n").as_bytes(),
        |_| {},
        |_| {},
    )
    .await;
    assert!(
        matches!(loaded, Err(custodian_core::Error::Conflict(_))),
        "{loaded:?}"
    );
    let dump = db.dump().await;
    for n in needles() {
        assert!(!dump.contains(&n), "{n} is in the database again");
    }
    assert!(
        !dump.contains(&OTHER.to_lowercase()),
        "the refused batch wrote nothing"
    );
}

/// An erasure holding the patient commits first: a write naming them waits
/// for it (the advisory lock), then is refused, and nothing of it is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_write_waiting_on_an_erasure_is_refused() {
    custodian_core::testing::on_postgres(
        "postgres_a_write_waiting_on_an_erasure_is_refused",
        |db| async move {
            let t = TestApp::spawn(&db, &Modules::all(&[custodian_analytics::MODULE])).await;
            let service = t.client("pipeline", Role::Service).await;
            service
                .ok(
                    "POST",
                    "/v1/analytics/ml_predictions",
                    Some(prediction(PATIENT)),
                    StatusCode::CREATED,
                )
                .await;
            let erasure = custodian_analytics::erase::ERASURE;
            let tx = t.store.begin().await.unwrap();
            custodian_module::erase::erase_in(
                &tx,
                "analytics",
                &erasure,
                &erasure.target(PATIENT).unwrap(),
                custodian_module::erase::Reason::ConsentWithdrawn,
                &Actor::system(),
            )
            .await
            .unwrap();
            let writer = service.clone();
            let write = tokio::spawn(async move {
                writer
                    .call(
                        "POST",
                        "/v1/analytics/patient_journeys",
                        Some(journey(PATIENT)),
                    )
                    .await
            });
            custodian_core::testing::until_blocked(&t.store, || write.is_finished()).await;
            tx.commit().await.unwrap();
            let (st, p) = write.await.unwrap();
            assert_eq!(st, StatusCode::CONFLICT, "{p}");
            let dump = db.dump().await;
            assert!(!dump.contains(STAGE), "the refused write left nothing");
            assert!(!dump.contains(&PATIENT.to_lowercase()));
        },
    )
    .await;
}

/// A write holding the patient commits first: the erasure waits for it and
/// erases what it wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_write_that_commits_first_is_erased_with_the_patient() {
    custodian_core::testing::on_postgres(
        "postgres_a_write_that_commits_first_is_erased_with_the_patient",
        |db| async move {
            use sea_orm::ActiveModelTrait;
            let t = TestApp::spawn(&db, &Modules::all(&[custodian_analytics::MODULE])).await;
            let admin = t.client("admin", Role::Admin).await;
            let tx = t.store.begin().await.unwrap();
            custodian_analytics::erase::hold(&tx, &[PATIENT])
                .await
                .unwrap();
            let new = serde_json::from_value(journey(PATIENT)).unwrap();
            custodian_analytics::patient::journey_row(
                new,
                &SplitConfig::default(),
                custodian_core::time::now(),
            )
            .unwrap()
            .insert(&tx)
            .await
            .unwrap();
            let eraser = admin.clone();
            let erase = tokio::spawn(async move {
                eraser
                    .call(
                        "POST",
                        &erase_uri(PATIENT),
                        Some(json!({"reason": "consent_withdrawn"})),
                    )
                    .await
            });
            custodian_core::testing::until_blocked(&t.store, || erase.is_finished()).await;
            tx.commit().await.unwrap();
            let (st, report) = erase.await.unwrap();
            assert_eq!(st, StatusCode::OK, "{report}");
            assert_eq!(report["rows"]["analytics_patient_journeys"], 1, "{report}");
            let dump = db.dump().await;
            assert!(!dump.contains(STAGE), "the write was erased with the rest");
            assert!(!dump.contains(&PATIENT.to_lowercase()));
        },
    )
    .await;
}

/// A patient whose rows are gone but whose keyed answer is sealed under
/// their key is erased (the key with them), and the id's limit counts
/// characters as the tables do: 255 two-byte characters are an id, 256 not.
async fn key_only(db: TestDb) {
    use sea_orm::ConnectionTrait;
    let (t, admin, service) = app(&db).await;
    let long = "\u{e9}".repeat(255);
    let (st, saved) = keyed_journey(&service, "journey-long", &long).await;
    assert_eq!(st, StatusCode::CREATED, "{saved}");
    t.store
        .conn()
        .execute_unprepared("DELETE FROM analytics_patient_journeys")
        .await
        .unwrap();
    let body = json!({"reason": "subject_request"});
    let too_long = format!("/v1/analytics/patients/{}/erase", "%C3%A9".repeat(256));
    admin
        .ok(
            "POST",
            &too_long,
            Some(body.clone()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    let uri = format!("/v1/analytics/patients/{}/erase", "%C3%A9".repeat(255));
    let report = admin
        .ok("POST", &uri, Some(body.clone()), StatusCode::OK)
        .await;
    assert_eq!(report["keys_destroyed"], 1, "{report}");
    let (st, replayed) = keyed_journey(&service, "journey-long", &long).await;
    assert_eq!(st, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, json!({"erased": true}));
    admin
        .ok("POST", &uri, Some(body), StatusCode::CONFLICT)
        .await;
}
