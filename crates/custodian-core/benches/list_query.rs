//! The list-query inner loops: parsing a request (with and without a
//! cursor) and encoding the next cursor. Run: `cargo bench -p custodian-core`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // a benchmark harness

use custodian_core::query::{Dir, FieldType, ListQuery, ListSpec};

mod case {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub status: String,
        pub case_type: String,
        pub urgency_level: String,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn spec() -> ListSpec<case::Entity> {
    use case::Column as C;
    ListSpec::new("cases", "id", C::Id, FieldType::Uuid)
        .filter("status", C::Status, FieldType::OneOf(&["open", "closed"]))
        .filter("case_type", C::CaseType, FieldType::Text)
        .filter("urgency_level", C::UrgencyLevel, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("created_at", Dir::Desc), ("id", Dir::Desc)])
}

fn pairs(cursor: Option<&str>) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("status", "eq.open"),
        ("case_type", "eq.auto"),
        ("urgency_level", "in.(high,critical)"),
        ("limit", "50"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if let Some(c) = cursor {
        p.push(("cursor".to_owned(), c.to_owned()));
    }
    p
}

fn row() -> case::Model {
    case::Model {
        id: uuid::Uuid::now_v7(),
        status: "open".into(),
        case_type: "auto".into(),
        urgency_level: "high".into(),
        created_at: chrono::Utc::now(),
    }
}

fn first_page() -> ListQuery {
    spec().parse(&pairs(None), false).unwrap()
}

#[divan::bench]
fn parse_first_page(b: divan::Bencher) {
    let s = spec();
    let p = pairs(None);
    b.bench(|| s.parse(divan::black_box(&p), false).unwrap());
}

#[divan::bench]
fn parse_with_cursor(b: divan::Bencher) {
    let s = spec();
    let cursor = s.cursor_after(&first_page(), &row()).unwrap();
    let p = pairs(Some(&cursor));
    b.bench(|| s.parse(divan::black_box(&p), false).unwrap());
}

#[divan::bench]
fn encode_cursor(b: divan::Bencher) {
    let s = spec();
    let q = first_page();
    let r = row();
    b.bench(|| {
        s.cursor_after(divan::black_box(&q), divan::black_box(&r))
            .unwrap()
    });
}

fn main() {
    divan::main();
}
