//! Store, migration and list-query behaviour, each body run on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use chrono::{Duration, TimeZone, Utc};
use custodian_core::{
    Error, Store,
    migrate::{DownOptions, MigrationSet, Migrator},
    query::{Dir, FieldType, ListSpec},
    testing::TestDb,
};
use proptest::prelude::*;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set, prelude::Uuid};
use sea_orm_migration::prelude::*;

mod probe {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "probe")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub score: i64,
        pub active: bool,
        pub at: ChronoDateTimeUtc,
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

struct CreateProbe;
impl MigrationName for CreateProbe {
    fn name(&self) -> &str {
        "m00000001_test_create_probe"
    }
}
#[async_trait::async_trait]
impl MigrationTrait for CreateProbe {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("probe")
                .col(ColumnDef::new("id").uuid().not_null().primary_key())
                .col(ColumnDef::new("name").string().not_null().unique_key())
                .col(ColumnDef::new("score").big_integer().not_null())
                .col(ColumnDef::new("active").boolean().not_null())
                .col(ColumnDef::new("at").timestamp_with_time_zone().not_null())
                .col(ColumnDef::new("note").string().null())
                .to_owned(),
        )
        .await
    }
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("probe").to_owned()).await
    }
}

struct IndexProbe;
impl MigrationName for IndexProbe {
    fn name(&self) -> &str {
        "m00000002_test_index_probe"
    }
}
#[async_trait::async_trait]
impl MigrationTrait for IndexProbe {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("probe_score_at")
                .table("probe")
                .col("score")
                .col("at")
                .to_owned(),
        )
        .await
    }
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("probe_score_at")
                .table("probe")
                .to_owned(),
        )
        .await
    }
}

fn migrator(with_index: bool) -> Migrator {
    let mut migrations: Vec<Box<dyn MigrationTrait>> = vec![Box::new(CreateProbe)];
    if with_index {
        migrations.push(Box::new(IndexProbe));
    }
    Migrator::new(vec![MigrationSet {
        component: "test",
        migrations,
    }])
    .unwrap()
}

async fn migrated(db: &TestDb) -> &Store {
    migrator(true).up(&db.store).await.unwrap();
    &db.store
}

fn row(name: &str, score: i64, active: bool, minute: i64) -> probe::ActiveModel {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    probe::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        score: Set(score),
        active: Set(active),
        at: Set(base + Duration::minutes(minute)),
        note: Set((score % 2 == 0).then(|| format!("n{score}"))),
    }
}

fn spec() -> ListSpec<probe::Entity> {
    use probe::Column as C;
    ListSpec::new("probes", "id", C::Id, FieldType::Uuid)
        .sort("name", C::Name, FieldType::Text)
        .sort("score", C::Score, FieldType::Int)
        .filter("active", C::Active, FieldType::Bool)
        .sort("at", C::At, FieldType::Timestamp)
        .filter("note", C::Note, FieldType::Text)
        .default_order(&[("at", Dir::Desc)])
}

fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

custodian_core::backend_tests! {
    migrate_up_down_up_round_trips => migrate_round_trip,
    concurrent_migrations_apply_each_migration_once => concurrent_migrations,
    a_database_with_unknown_migrations_is_refused => unknown_migrations_refused,
    pending_migrations_are_reported_until_applied => pending_reported,
    a_unit_of_work_commits_on_ok => tx_commits,
    a_unit_of_work_rolls_back_on_err => tx_rolls_back_on_err,
    a_unit_of_work_rolls_back_on_panic => tx_rolls_back_on_panic,
    a_duplicate_unique_key_is_classified_as_duplicate => unique_is_conflict,
    every_filter_operator_selects_what_it_says => filter_operators,
    count_exact_counts_the_filtered_rows => count_exact,
    keyset_pages_return_every_row_once_in_order => keyset_property,
    server_version_names_the_backend => server_version,
    down_refuses_to_drop_rows_or_protected_tables_unless_told => down_guard,
}

async fn down_guard(db: TestDb) {
    let m = migrator(true);
    m.up(&db.store).await.unwrap();
    let all = |opts: DownOptions| {
        let m = &m;
        let store = &db.store;
        async move { m.down(store, 5, &opts).await }
    };
    // Empty tables go without a word, but a protected one must be named.
    let protected = DownOptions {
        protected: vec!["probe".into()],
        ..DownOptions::default()
    };
    let err = all(protected.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains("probe") && err.contains("--drop probe"),
        "{err}"
    );
    assert_eq!(
        m.report(&db.store).await.unwrap().pending().count(),
        0,
        "nothing reverted"
    );
    // A table with rows needs --force; a dry run says so and changes nothing.
    row("kept", 1, true, 0)
        .insert(db.store.conn())
        .await
        .unwrap();
    let plan = all(DownOptions {
        dry_run: true,
        ..DownOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(plan.reverted.len(), 2);
    assert!(
        plan.dropped.iter().any(|d| d.name == "probe" && d.had_rows),
        "{plan:?}"
    );
    let err = all(DownOptions::default()).await.unwrap_err().to_string();
    assert!(
        err.contains("holding rows: probe") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        probe::Entity::find().count(db.store.conn()).await.unwrap(),
        1
    );
    let done = all(DownOptions {
        force: true,
        ..DownOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(done.reverted.len(), 2);
}

async fn migrate_round_trip(db: TestDb) {
    let m = migrator(true);
    assert_eq!(m.up(&db.store).await.unwrap().len(), 2);
    assert!(
        m.up(&db.store).await.unwrap().is_empty(),
        "second up is a no-op"
    );
    let none = DownOptions::default();
    let reverted = m.down(&db.store, 1, &none).await.unwrap().reverted;
    assert_eq!(reverted, vec!["m00000002_test_index_probe"]);
    let report = m.report(&db.store).await.unwrap();
    assert_eq!(report.pending().count(), 1);
    assert_eq!(
        m.up(&db.store).await.unwrap(),
        vec!["m00000002_test_index_probe"]
    );
    assert_eq!(m.down(&db.store, 5, &none).await.unwrap().reverted.len(), 2);
    assert_eq!(m.up(&db.store).await.unwrap().len(), 2);
    probe::Entity::find().count(db.store.conn()).await.unwrap();
}

async fn concurrent_migrations(db: TestDb) {
    // Separate pools stand in for separate processes.
    let mut handles = Vec::new();
    for _ in 0..4 {
        let cfg = db.config.clone();
        handles.push(tokio::spawn(async move {
            let store = Store::connect(&cfg).await.unwrap();
            let applied = migrator(true).up(&store).await.unwrap();
            store.close().await.unwrap();
            applied.len()
        }));
    }
    let mut counts = Vec::new();
    for h in handles {
        counts.push(h.await.unwrap());
    }
    counts.sort();
    assert_eq!(counts, vec![0, 0, 0, 2]);
    let report = migrator(true).report(&db.store).await.unwrap();
    assert_eq!(report.pending().count(), 0);
    assert!(report.unknown.is_empty());
}

async fn unknown_migrations_refused(db: TestDb) {
    migrator(true).up(&db.store).await.unwrap();
    let older = migrator(false);
    let err = older
        .ensure_current(&db.store, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("m00000002_test_index_probe"), "{err}");
    assert!(err.contains("does not know"), "{err}");
    let err = older.up(&db.store).await.unwrap_err().to_string();
    assert!(err.contains("m00000002_test_index_probe"), "{err}");
}

async fn pending_reported(db: TestDb) {
    let m = migrator(true);
    let err = m
        .ensure_current(&db.store, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 migration(s) pending"), "{err}");
    assert!(m.ensure_current(&db.store, true).await.is_ok());
    m.up(&db.store).await.unwrap();
    assert!(m.ensure_current(&db.store, false).await.is_ok());
}

async fn tx_commits(db: TestDb) {
    let store = migrated(&db).await;
    store
        .transaction(|tx| {
            Box::pin(async move {
                row("a", 1, true, 0).insert(tx).await?;
                row("b", 2, true, 1).insert(tx).await?;
                Ok::<_, Error>(())
            })
        })
        .await
        .unwrap();
    assert_eq!(probe::Entity::find().count(store.conn()).await.unwrap(), 2);
}

async fn tx_rolls_back_on_err(db: TestDb) {
    let store = migrated(&db).await;
    let result = store
        .transaction(|tx| {
            Box::pin(async move {
                row("a", 1, true, 0).insert(tx).await?;
                Err::<(), _>(Error::Conflict("changed my mind".into()))
            })
        })
        .await;
    assert!(matches!(result, Err(Error::Conflict(_))));
    assert_eq!(probe::Entity::find().count(store.conn()).await.unwrap(), 0);
}

async fn tx_rolls_back_on_panic(db: TestDb) {
    let store = migrated(&db).await.clone();
    let s = store.clone();
    let joined = tokio::spawn(async move {
        s.transaction::<(), Error, _>(|tx| {
            Box::pin(async move {
                row("a", 1, true, 0).insert(tx).await?;
                panic!("crash inside the unit of work");
            })
        })
        .await
    })
    .await;
    assert!(joined.is_err_and(|e| e.is_panic()));
    // The same pool still works, and nothing landed.
    assert_eq!(probe::Entity::find().count(store.conn()).await.unwrap(), 0);
    row("b", 2, true, 0).insert(store.conn()).await.unwrap();
}

async fn unique_is_conflict(db: TestDb) {
    let store = migrated(&db).await;
    row("same", 1, true, 0).insert(store.conn()).await.unwrap();
    let err = row("same", 2, true, 1)
        .insert(store.conn())
        .await
        .map_err(Error::from)
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
}

async fn seed_fixture(store: &Store) -> Vec<probe::Model> {
    let rows = [
        ("Ann", 1, true, 0),
        ("ann", 2, false, 5),
        ("Bob", 3, true, 10),
        ("bobby", 4, false, 10),
        ("Cy", 5, true, 20),
        ("a*b", 6, true, 30),
    ];
    let mut out = Vec::new();
    for (n, s, a, m) in rows {
        out.push(row(n, s, a, m).insert(store.conn()).await.unwrap());
    }
    out
}

async fn filter_operators(db: TestDb) {
    let store = migrated(&db).await;
    let rows = seed_fixture(store).await;
    let names = |q: &str| {
        let store = store.clone();
        let q = q.to_owned();
        async move {
            let spec = spec();
            let parsed = spec
                .parse(&pairs(&format!("{q}&order=name.asc")), false)
                .unwrap();
            let page = spec
                .fetch(store.conn(), &parsed, probe::Entity::find())
                .await
                .unwrap();
            page.items.into_iter().map(|m| m.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(names("name=eq.Ann").await, ["Ann"]);
    assert_eq!(
        names("name=neq.Ann").await,
        ["Bob", "Cy", "a*b", "ann", "bobby"]
    );
    assert_eq!(names("score=gt.4").await, ["Cy", "a*b"]);
    assert_eq!(names("score=gte.4").await, ["Cy", "a*b", "bobby"]);
    assert_eq!(names("score=lt.2").await, ["Ann"]);
    assert_eq!(names("score=lte.2").await, ["Ann", "ann"]);
    assert_eq!(names("score=in.(1,3,99)").await, ["Ann", "Bob"]);
    assert_eq!(
        names("name=like.b*").await,
        ["bobby"],
        "like is case-sensitive on both backends"
    );
    assert_eq!(names("name=ilike.b*").await, ["Bob", "bobby"]);
    assert_eq!(names("name=ilike.ANN").await, ["Ann", "ann"]);
    assert_eq!(names("active=is.false").await, ["ann", "bobby"]);
    assert_eq!(
        names("active=eq.true&score=gt.2").await,
        ["Bob", "Cy", "a*b"]
    );
    assert_eq!(names("note=is.null").await, ["Ann", "Bob", "Cy"]);
    assert_eq!(names("note=not.is.null").await, ["a*b", "ann", "bobby"]);
    assert_eq!(names("score=not.in.(1,2,3,4)").await, ["Cy", "a*b"]);
    let at = rows[2].at.to_rfc3339();
    assert_eq!(
        names(&format!("at=eq.{}", at.replace('+', "%2B"))).await,
        ["Bob", "bobby"]
    );
    assert_eq!(names("at=lt.2026-01-01T00:06:00Z").await, ["Ann", "ann"]);
    let id = rows[4].id;
    assert_eq!(names(&format!("id=eq.{id}")).await, ["Cy"]);
    // Values are bound, never spliced: SQL in a value is just text.
    assert!(names("name=eq.x' OR '1'='1").await.is_empty());
}

async fn count_exact(db: TestDb) {
    let store = migrated(&db).await;
    seed_fixture(store).await;
    let spec = spec();
    let q = spec.parse(&pairs("active=is.true&limit=2"), true).unwrap();
    let page = spec
        .fetch(store.conn(), &q, probe::Entity::find())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.total, Some(4));
    assert!(page.next_cursor.is_some());
    let q = spec.parse(&pairs("active=is.true&limit=2"), false).unwrap();
    assert_eq!(
        spec.fetch(store.conn(), &q, probe::Entity::find())
            .await
            .unwrap()
            .total,
        None
    );
}

async fn server_version(db: TestDb) {
    let v = db.store.server_version().await.unwrap();
    let want = match db.store.backend() {
        custodian_core::Backend::Sqlite => "SQLite",
        custodian_core::Backend::Postgres => "PostgreSQL",
    };
    assert!(v.contains(want), "{v}");
}

#[derive(Debug, Clone)]
struct Case {
    rows: Vec<(u8, i64, bool, i64)>,
    page: u64,
    order: &'static str,
    filter: &'static str,
    insert_between: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((0u8..6, 0i64..4, any::<bool>(), 0i64..5), 0..40),
        1u64..8,
        prop::sample::select(vec![
            "",
            "order=score.desc",
            "order=score.asc,at.desc",
            "order=name",
            "order=at.asc,score.desc,name.desc",
        ]),
        prop::sample::select(vec!["", "score=gte.1", "active=is.true"]),
        any::<bool>(),
    )
        .prop_map(|(rows, page, order, filter, insert_between)| Case {
            rows,
            page,
            order,
            filter,
            insert_between,
        })
}

fn key(m: &probe::Model, order: &str) -> Vec<String> {
    // A comparable rendering of the order fields, each already directed.
    let fields: Vec<(&str, bool)> = if order.is_empty() {
        vec![("at", true)]
    } else {
        order
            .trim_start_matches("order=")
            .split(',')
            .map(|p| match p.rsplit_once('.') {
                Some((f, "desc")) => (f, true),
                Some((f, _)) => (f, false),
                None => (p, false),
            })
            .collect()
    };
    let mut out = Vec::new();
    for (f, desc) in fields.into_iter().chain([("id", false)]) {
        let v = match f {
            "score" => format!("{:020}", m.score + 1_000_000),
            "at" => format!("{:020}", m.at.timestamp_micros()),
            "name" => m.name.clone(),
            _ => m.id.to_string(),
        };
        // Invert descending keys so plain string order applies.
        out.push(if desc {
            v.bytes().map(|b| (255 - b) as char).collect()
        } else {
            v
        });
    }
    out
}

async fn keyset_property(db: TestDb) {
    let store = migrated(&db).await.clone();
    let handle = tokio::runtime::Handle::current();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    runner
        .run(&cases(), |case| {
            tokio::task::block_in_place(|| handle.block_on(check_case(&store, case)));
            Ok(())
        })
        .unwrap();
}

async fn check_case(store: &Store, case: Case) {
    probe::Entity::delete_many()
        .exec(store.conn())
        .await
        .unwrap();
    let mut originals = Vec::new();
    for (i, (n, s, a, m)) in case.rows.iter().enumerate() {
        let name = format!("p{n}-{i:03}");
        originals.push(row(&name, *s, *a, *m).insert(store.conn()).await.unwrap());
    }
    let matches = |m: &probe::Model| match case.filter {
        "score=gte.1" => m.score >= 1,
        "active=is.true" => m.active,
        _ => true,
    };
    let spec = spec();
    let base = [case.filter, case.order, &format!("limit={}", case.page)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    let mut seen: Vec<probe::Model> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut extra = 0;
    // Every page but the last holds `page` rows, so more pages than this means
    // the cursor did not advance.
    let max_pages = (case.rows.len() + 5) / case.page as usize + 2;
    for n in 0.. {
        assert!(n <= max_pages, "pagination did not end after {n} pages");
        let qs = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.clone(),
        };
        let q = spec.parse(&pairs(&qs), false).unwrap();
        let page = spec
            .fetch(store.conn(), &q, probe::Entity::find())
            .await
            .unwrap();
        assert!(page.items.len() as u64 <= case.page);
        seen.extend(page.items);
        if case.insert_between && extra < 5 {
            row(&format!("x-{extra}"), extra % 4, true, extra)
                .insert(store.conn())
                .await
                .unwrap();
            extra += 1;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    for pair in seen.windows(2) {
        assert!(
            key(&pair[0], case.order) < key(&pair[1], case.order),
            "out of order: {pair:?}"
        );
    }
    let mut ids: Vec<Uuid> = seen.iter().map(|m| m.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), seen.len(), "a row appeared twice");
    for o in originals.iter().filter(|m| matches(m)) {
        assert_eq!(
            seen.iter().filter(|s| s.id == o.id).count(),
            1,
            "row {} missing",
            o.name
        );
    }
    assert!(
        seen.iter().all(matches),
        "a row outside the filter was returned"
    );
}
