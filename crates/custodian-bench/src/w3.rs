//! W3: case listing with filters and keyset pagination, against the peer's OFFSET page.

#[allow(clippy::wildcard_imports)] // the workloads share the harness's imports
use super::*;

const W3_STATUS: &[CaseStatus] = &[
    CaseStatus::Pending,
    CaseStatus::InProgress,
    CaseStatus::PendingInfo,
    CaseStatus::Escalated,
    CaseStatus::Resolved,
    CaseStatus::Closed,
];
const W3_TYPES: &[CaseType] = &[
    CaseType::Auto,
    CaseType::Property,
    CaseType::Health,
    CaseType::Life,
    CaseType::Liability,
];
const W3_URGENCY: &[UrgencyLevel] = &[
    UrgencyLevel::Low,
    UrgencyLevel::Medium,
    UrgencyLevel::High,
    UrgencyLevel::Critical,
];

/// Loads `n` cases in batches (untimed), `created_at` rising with the row
/// as in a table filled over time.
pub(super) async fn w3_load(store: &Store, n: usize, out: &Output) -> Result<()> {
    let started = Instant::now();
    let mut rng = SplitMix64::new(SEED ^ 0x03);
    let base = Utc
        .with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
        .single()
        .context("base time")?;
    let step_us = (365 * 86_400 * 1_000_000) / i64::try_from(n).unwrap_or(1);
    let batch = match store.backend() {
        Backend::Postgres => 2_000,
        Backend::Sqlite => 1_000,
    };
    let bar = out.bar(n, "W3 load");
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        // Each case's claim number is held in its lookup table, as a
        // `POST` would hold it; one transaction per batch.
        let mut pairs: Vec<(String, Uuid)> = Vec::with_capacity(end - i);
        let rows: Vec<case::ActiveModel> = (i..end)
            .map(|k| {
                let x = rng.next_u64();
                let y = rng.next_u64();
                let jitter = i64::try_from((y >> 20) % step_us.max(1) as u64).unwrap_or(0);
                let created = base
                    + chrono::Duration::microseconds(
                        i64::try_from(k).unwrap_or(0) * step_us + jitter,
                    );
                #[allow(clippy::cast_precision_loss)]
                let score = ((x >> 40) & 0xFFFF) as f64 / 65_535.0;
                let id = Uuid::now_v7();
                let external_id = format!("CL-{:08}", k + 1);
                pairs.push((external_id.clone(), id));
                case::ActiveModel {
                    id: Set(id),
                    external_id: Set(external_id),
                    case_type: Set(W3_TYPES[usize::try_from((x >> 24) % 5).unwrap_or(0)]),
                    title: Set(format!("claim {}", k + 1)),
                    description: Set(None),
                    status: Set(W3_STATUS[usize::try_from((x >> 16) % 6).unwrap_or(0)]),
                    urgency_level: Set(W3_URGENCY[usize::try_from((x >> 32) % 4).unwrap_or(0)]),
                    risk_level: Set(RiskLevel::Low),
                    risk_score: Set((score * 100.0).round() / 100.0),
                    priority_score: Set(0.0),
                    assigned_team_id: Set(None),
                    assigned_user_id: Set(None),
                    assigned_at: Set(None),
                    sla_due_at: Set(None),
                    metadata: Set(serde_json::json!({})),
                    created_at: Set(created),
                    updated_at: Set(created),
                    deleted_at: Set(None),
                }
            })
            .collect();
        let tx = store.conn().begin().await?;
        case::Entity::insert_many(rows)
            .exec_without_returning(&tx)
            .await?;
        custodian_claims::external_ids::EXTERNAL_IDS
            .claim_all(&tx, &pairs)
            .await?;
        tx.commit().await?;
        bar.inc((end - i) as u64);
        i = end;
    }
    bar.finish_and_clear();
    let analyze = match store.backend() {
        Backend::Postgres => "VACUUM ANALYZE claims_cases",
        Backend::Sqlite => "ANALYZE",
    };
    store.conn().execute_unprepared(analyze).await?;
    out.note(&format!(
        "W3: loaded {n} cases in {:.1}s (not timed)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn w3_pairs(
    s: CaseStatus,
    t: CaseType,
    u: UrgencyLevel,
    cursor: Option<&str>,
) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("status".to_owned(), format!("eq.{s}")),
        ("case_type".to_owned(), format!("eq.{t}")),
        ("urgency_level".to_owned(), format!("eq.{u}")),
        ("limit".to_owned(), "50".to_owned()),
    ];
    if let Some(c) = cursor {
        pairs.push(("cursor".to_owned(), c.to_owned()));
    }
    pairs
}

type Combo = (CaseStatus, CaseType, UrgencyLevel);

pub(super) async fn w3(store: &Store, api: &Api, scale: f64, out: &Output) -> Result<Vec<Line>> {
    let n = scaled(4_000, scale);
    let workers = 16;
    let mut rng = SplitMix64::new(SEED ^ 0x33);
    let calls: Vec<(Combo, usize)> = (0..n)
        .map(|_| {
            (
                (
                    rng.pick(W3_STATUS),
                    rng.pick(W3_TYPES),
                    rng.pick(W3_URGENCY),
                ),
                rng.below(20),
            )
        })
        .collect();
    // A keyset API reaches page p with the cursor the page before returned;
    // those cursors are collected first (untimed), so each timed call asks
    // for exactly the 50 rows the peer's OFFSET query returns.
    let spec: Arc<ListSpec<case::Entity>> = Arc::new(repo::case_spec());
    let now = Utc::now();
    let mut cursors: HashMap<(Combo, usize), Option<String>> = HashMap::new();
    let mut deepest: HashMap<Combo, usize> = HashMap::new();
    for (combo, page) in &calls {
        let d = deepest.entry(*combo).or_default();
        *d = (*d).max(*page);
    }
    for (combo, deep) in &deepest {
        let mut cursor: Option<String> = None;
        for page in 0..=*deep {
            cursors.insert((*combo, page), cursor.clone());
            if page == *deep {
                break;
            }
            let q = spec.parse(
                &w3_pairs(combo.0, combo.1, combo.2, cursor.as_deref()),
                false,
            )?;
            cursor = repo::list_cases(store, &reader(), &spec, &q, now)
                .await?
                .next_cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    // Past the last page (`None`) the peer's OFFSET returns nothing too.
    let prepared: Vec<Option<(ListQuery, String)>> = calls
        .iter()
        .map(|(combo, page)| {
            let c = cursors.get(&(*combo, *page))?;
            let pairs = w3_pairs(combo.0, combo.1, combo.2, c.as_deref());
            let qs = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            Some((
                spec.parse(&pairs, false).ok()?,
                format!("/v1/claims/cases?{qs}"),
            ))
        })
        .collect();
    let prepared = Arc::new(prepared);
    let sample_every = (n / 100).max(1);
    let sampled: Arc<Vec<std::sync::OnceLock<Vec<Uuid>>>> =
        Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());
    warm(store, workers).await?;
    let bar = out.bar(n, "W3 list_cases");
    let http = api.http();
    let run = {
        let (store, spec, prepared, sampled) = (
            store.clone(),
            spec.clone(),
            prepared.clone(),
            sampled.clone(),
        );
        run_concurrent(n, workers, &bar, move |i| {
            let (store, spec, prepared, sampled, http) = (
                store.clone(),
                spec.clone(),
                prepared.clone(),
                sampled.clone(),
                http.clone(),
            );
            async move {
                let ids: Vec<Uuid> = match (&prepared[i], http) {
                    (None, _) => Vec::new(),
                    (Some((q, _)), None) => {
                        repo::list_cases(&store, &reader(), &spec, q, Utc::now())
                            .await?
                            .items
                            .into_iter()
                            .map(|c| c.case.id)
                            .collect()
                    }
                    (Some((_, path)), Some(h)) => match h.get(path).await? {
                        (200, body) => body["items"]
                            .as_array()
                            .map(|items| {
                                items
                                    .iter()
                                    .filter_map(|c| c["id"].as_str()?.parse().ok())
                                    .collect()
                            })
                            .unwrap_or_default(),
                        (status, body) => bail!("GET {path} answered {status}: {body}"),
                    },
                };
                if i % sample_every == 0 {
                    let _ = sampled[i].set(ids);
                }
                Ok(())
            }
        })
        .await
    };
    let mut problems: Vec<String> = run.error_check().into_iter().collect();
    let mut wrong = 0;
    let mut checked = 0;
    for (i, got) in sampled.iter().enumerate() {
        let Some(got) = got.get() else { continue };
        let ((s, t, u), page) = calls[i];
        let want = direct_page(store, s, t, u, page).await?;
        checked += 1;
        if *got != want {
            wrong += 1;
        }
    }
    if wrong > 0 {
        problems.push(format!(
            "{wrong}/{checked} sampled responses differ from direct SQL"
        ));
    }
    if store.backend() == Backend::Postgres {
        let plan = explain(store).await?;
        if !plan.contains("claims_cases_list") {
            problems.push("the listing does not use the claims_cases_list index".to_owned());
        }
    }
    out.note(&format!("W3: calls={n} sampled={checked}"));
    Ok(vec![Line::new("W3", &run, checks(problems))])
}

/// The page the peer would fetch, straight from SQL with OFFSET.
async fn direct_page(
    store: &Store,
    s: CaseStatus,
    t: CaseType,
    u: UrgencyLevel,
    page: usize,
) -> Result<Vec<Uuid>> {
    let sql = format!(
        "SELECT id FROM claims_cases WHERE deleted_at IS NULL AND status <> 'archived' \
         AND status = '{s}' AND case_type = '{t}' AND urgency_level = '{u}' \
         ORDER BY created_at DESC, id DESC LIMIT 50 OFFSET {}",
        page * 50
    );
    let conn = store.conn();
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<Uuid>("", "id").map_err(Into::into))
        .collect()
}

/// PostgreSQL's plan for one listing call, as the repository sends it.
async fn explain(store: &Store) -> Result<String> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryTrait};
    let spec = repo::case_spec();
    let q = spec.parse(
        &w3_pairs(CaseStatus::Pending, CaseType::Auto, UrgencyLevel::Low, None),
        false,
    )?;
    let select = spec.apply(
        sea_orm::DbBackend::Postgres,
        &q,
        case::Entity::find()
            .filter(case::Column::DeletedAt.is_null())
            .filter(case::Column::Status.ne(CaseStatus::Archived)),
    );
    let stmt = select.build(sea_orm::DbBackend::Postgres);
    let explain = Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!("EXPLAIN {}", stmt.sql),
        stmt.values.unwrap_or(sea_orm::Values(Vec::new())),
    );
    let rows = store.conn().query_all_raw(explain).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Who the library calls list as: like any library caller, each page's
/// read is recorded in the audit chain under this name.
fn reader() -> custodian_ledger::audit::Actor {
    custodian_ledger::audit::Actor {
        name: "bench".to_owned(),
        request_id: None,
    }
}
