//! The list grammar without a database: parsing, limits, cursors.

use super::*;

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
        pub day: ChronoDate,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn spec() -> ListSpec<probe::Entity> {
    use probe::Column as C;
    ListSpec::new("probes", "id", C::Id, FieldType::Uuid)
        .sort("name", C::Name, FieldType::Text)
        .sort("score", C::Score, FieldType::Int)
        .filter("active", C::Active, FieldType::Bool)
        .sort("at", C::At, FieldType::Timestamp)
        .sort("day", C::Day, FieldType::Date)
        .default_order(&[("at", Dir::Desc)])
}

fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

#[test]
fn nul_bytes_too_many_filters_and_long_patterns_are_bad_queries() {
    assert_eq!(err_param("name=eq.a%00b"), "name");
    let many: Vec<String> = (0..=MAX_FILTERS)
        .map(|i| format!("score=neq.{i}"))
        .collect();
    assert_eq!(err_param(&many.join("&")), "score");
    let twenty = (0..MAX_FILTERS)
        .map(|_| format!("score=in.({})", vec!["1"; 60].join(",")))
        .collect::<Vec<_>>()
        .join("&");
    let e = spec().parse(&pairs(&twenty), false).unwrap_err();
    assert!(e.reason.contains("at most"), "{}", e.reason);
    let long = format!("name=like.{}", "a".repeat(MAX_PATTERN_LEN + 1));
    assert_eq!(err_param(&long), "name");
    assert!(
        spec()
            .parse(
                &pairs(&format!("name=like.{}", "a".repeat(MAX_PATTERN_LEN))),
                false
            )
            .is_ok()
    );
}

#[test]
fn a_day_field_takes_a_calendar_day_and_nothing_else() {
    let q = spec()
        .parse(
            &pairs("day=gte.2026-01-31&day=in.(2026-02-01,2026-02-02)"),
            false,
        )
        .unwrap();
    assert_eq!(
        q.filters[0].values,
        vec![Scalar::Date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())]
    );
    assert_eq!(q.filters[1].values.len(), 2);
    for bad in [
        "day=gte.2026-01-31T00:00:00Z",
        "day=eq.2026-02-30",
        "day=lt.tomorrow",
    ] {
        assert_eq!(err_param(bad), "day", "{bad}");
    }
}

fn err_param(q: &str) -> String {
    spec()
        .parse(&pairs(q), false)
        .err()
        .map(|e| e.param)
        .unwrap_or_default()
}

#[test]
fn well_formed_queries_parse() {
    let q = spec()
        .parse(&pairs("name=ilike.*ann*&score=in.(1,2,3)&active=is.true&at=gte.2026-01-01&order=score.desc&limit=10"), true)
        .unwrap();
    assert_eq!(q.filters.len(), 4);
    assert_eq!(q.limit, 10);
    assert!(q.count_exact);
    // The key is appended as the final tie-breaker.
    assert_eq!(q.order, vec![(2, Dir::Desc), (0, Dir::Asc)]);
    let q = spec().parse(&[], false).unwrap();
    assert_eq!(q.order, vec![(4, Dir::Desc), (0, Dir::Asc)]);
    assert_eq!(q.limit, DEFAULT_LIMIT);
    assert_eq!(q.offset, 0);
    let q = spec().parse(&pairs("limit=5&offset=10000"), false).unwrap();
    assert_eq!((q.limit, q.offset), (5, MAX_OFFSET));
}

#[test]
fn each_kind_of_bad_input_names_its_parameter() {
    assert_eq!(err_param("colour=eq.red"), "colour");
    assert_eq!(err_param("name=like"), "name");
    assert_eq!(err_param("name=between.a"), "name");
    assert_eq!(err_param("score=eq.seven"), "score");
    assert_eq!(err_param("score=like.1"), "score");
    assert_eq!(err_param("active=gt.true"), "active");
    assert_eq!(err_param("at=lt.yesterday"), "at");
    assert_eq!(err_param("id=eq.not-a-uuid"), "id");
    assert_eq!(err_param("score=in.1,2"), "score");
    assert_eq!(err_param("order=colour.desc"), "order");
    assert_eq!(err_param("order=active"), "order");
    assert_eq!(err_param("order=name,name.desc"), "order");
    assert_eq!(err_param("limit=0"), "limit");
    assert_eq!(err_param("limit=1001"), "limit");
    assert_eq!(err_param("limit=-5"), "limit");
    assert_eq!(err_param("cursor=%%%"), "cursor");
    assert_eq!(err_param("cursor=eyJ2IjpbXSwicSI6IiJ9"), "cursor");
    assert_eq!(err_param("offset=10001"), "offset");
    assert_eq!(err_param("offset=-1"), "offset");
    assert_eq!(err_param("offset=1&offset=2"), "offset");
}

#[test]
fn an_enum_field_refuses_values_outside_its_set_and_names_them() {
    use probe::Column as C;
    let spec = ListSpec::<probe::Entity>::new("probes", "id", C::Id, FieldType::Uuid).filter(
        "name",
        C::Name,
        FieldType::OneOf(&["open", "closed"]),
    );
    assert!(spec.parse(&pairs("name=in.(open,closed)"), false).is_ok());
    let e = spec.parse(&pairs("name=eq.opne"), false).unwrap_err();
    assert_eq!(e.param, "name");
    assert!(e.reason.contains("not one of open, closed"), "{}", e.reason);
    let e = spec.parse(&pairs("name=like.op*"), false).unwrap_err();
    assert_eq!(e.param, "name");
}

#[test]
fn in_lists_honour_quotes() {
    assert_eq!(split_list(r#"a,"b,c",d"#).unwrap(), vec!["a", "b,c", "d"]);
    assert_eq!(split_list(r#""""#).unwrap(), vec![""]);
    assert!(split_list(r#""a"#).is_err());
}

#[test]
fn a_cursor_only_works_for_the_query_that_made_it() {
    let s = spec();
    let q = s
        .parse(&pairs("score=gt.3&order=score.desc"), false)
        .unwrap();
    let c = s.encode_cursor(&q, vec![5.into(), Uuid::nil().to_string().into()]);
    let ok = s
        .parse(
            &pairs(&format!("score=gt.3&order=score.desc&cursor={c}")),
            false,
        )
        .unwrap();
    assert_eq!(
        ok.after,
        Some(vec![Scalar::Int(5), Scalar::Uuid(Uuid::nil())])
    );
    let other = s.parse(
        &pairs(&format!("score=gt.4&order=score.desc&cursor={c}")),
        false,
    );
    assert_eq!(other.err().map(|e| e.param), Some("cursor".into()));
    let both = s.parse(
        &pairs(&format!("score=gt.3&order=score.desc&offset=5&cursor={c}")),
        false,
    );
    assert_eq!(both.err().map(|e| e.param), Some("offset".into()));
    let mut altered = c.clone().into_bytes();
    altered[3] ^= 1;
    let altered = String::from_utf8(altered).unwrap();
    let tampered = s.parse(
        &pairs(&format!("score=gt.3&order=score.desc&cursor={altered}")),
        false,
    );
    assert_eq!(tampered.err().map(|e| e.param), Some("cursor".into()));
    let truncated = s.parse(
        &pairs(&format!(
            "score=gt.3&order=score.desc&cursor={}",
            &c[..c.len() - 4]
        )),
        false,
    );
    assert_eq!(truncated.err().map(|e| e.param), Some("cursor".into()));
}

proptest::proptest! {
    #[test]
    fn the_parser_never_panics(raw in proptest::collection::vec((".{0,12}", ".{0,40}"), 0..6)) {
        let _ = spec().parse(&raw, false);
    }

    #[test]
    fn operator_shaped_input_never_panics(
        field in proptest::sample::select(vec!["id", "name", "score", "active", "at", "order", "limit", "cursor"]),
        op in proptest::sample::select(vec!["eq", "neq", "gt", "gte", "lt", "lte", "in", "like", "ilike", "is", "not.eq", "not.in"]),
        arg in "[(),\"\\\\a-z0-9.*:TZ+-]{0,30}",
    ) {
        let _ = spec().parse(&[(field.to_owned(), format!("{op}.{arg}"))], false);
    }
}

#[test]
fn a_wrong_direction_is_named_as_such_not_as_an_unorderable_field() {
    let e = spec().parse(&pairs("order=at.down"), false).unwrap_err();
    assert_eq!(e.param, "order");
    assert!(
        e.reason.contains("\"down\" is not a direction"),
        "{}",
        e.reason
    );
    let e = spec()
        .parse(&pairs("order=active.desc"), false)
        .unwrap_err();
    assert!(
        e.reason.contains("cannot order by \"active\""),
        "{}",
        e.reason
    );
}

#[test]
fn a_resource_may_set_its_own_default_page() {
    assert_eq!(
        spec().parse(&pairs(""), false).unwrap().limit,
        DEFAULT_LIMIT
    );
    let hundred = spec().default_limit(100);
    assert_eq!(hundred.parse(&pairs(""), false).unwrap().limit, 100);
    assert_eq!(hundred.parse(&pairs("limit=7"), false).unwrap().limit, 7);
    assert_eq!(
        spec()
            .default_limit(5000)
            .parse(&pairs(""), false)
            .unwrap()
            .limit,
        MAX_LIMIT
    );
}
