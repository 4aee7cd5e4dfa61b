//! Bulk load (the seed's `load_v3_data`): CSV or NDJSON, streamed in
//! batches, each row validated like an API write, the split assigned on load.
//!
//! - A bad row is reported (line number and reason) and skipped; the good
//!   rows around it load.
//! - A row's id is derived from the table and the row's own bytes
//!   (SHA-256, as a UUID v8), and rows are inserted with `ON CONFLICT DO
//!   NOTHING`, so loading the same file again loads nothing twice; an
//!   identical line repeated in a file loads once.
//! - Memory is bounded by one batch: nothing else is kept per row.
//! - Each batch is one transaction with one `import` entry in the audit
//!   chain naming the file, its lines and the fields written. A batch
//!   naming an erased patient is refused (409) and the load stops there.
//! - The tables with the generic repository (triggers, business metrics,
//!   ...) load through one implementation in [`tables`].

mod tables;

use std::io::{BufRead, Read};

use chrono::{DateTime, Utc};
use custodian_core::{Error, Result, Store, time};
use custodian_ledger::{
    audit::{self, Actor},
    record::Named,
};
use custodian_privacy::splits::SplitConfig;
use sea_orm::{ActiveValue::Set, EntityTrait, TryInsertResult, sea_query::OnConflict};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    model::{ml_annotation, ml_prediction, patient_journey, user_session},
    patient::{
        ANNOTATION_FIELDS, JOURNEY_FIELDS, NewMlAnnotation, NewMlPrediction, NewPatientJourney,
        PREDICTION_FIELDS, annotation_row, journey_row, prediction_row,
    },
};

/// Sessions are written only by the import; this names them in the chain.
impl Named for user_session::Entity {
    const NAME: &'static str = "user_session";
}

/// Rows per transaction.
pub const DEFAULT_BATCH: usize = 1000;

/// The tables a file can be loaded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `analytics_patient_journeys` (patient-keyed: split assigned on load).
    PatientJourneys,
    /// `analytics_ml_predictions` (patient-keyed).
    MlPredictions,
    /// `analytics_ml_annotations` (patient-keyed).
    MlAnnotations,
    /// `analytics_user_sessions` (the active-users KPI's source).
    UserSessions,
    /// One of the tables with the generic repository (`triggers`, ...):
    /// checked as `POST /v1/analytics/<table>` checks a body.
    Other(tables::Other),
}

impl Table {
    /// Every table, in the order the command line lists them.
    pub fn all() -> impl Iterator<Item = Table> {
        [
            Table::PatientJourneys,
            Table::MlPredictions,
            Table::MlAnnotations,
            Table::UserSessions,
        ]
        .into_iter()
        .chain(tables::OTHERS.iter().copied().map(Table::Other))
    }

    /// The table called `name` on the command line.
    pub fn named(name: &str) -> Option<Table> {
        Table::all().find(|t| t.name() == name)
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Table::PatientJourneys => "patient_journeys",
            Table::MlPredictions => "ml_predictions",
            Table::MlAnnotations => "ml_annotations",
            Table::UserSessions => "user_sessions",
            Table::Other(t) => t.0.name(),
        }
    }

    /// The record's name in the audit chain (the `entity` of its entries).
    pub fn audit_name(self) -> &'static str {
        self.audit().0
    }

    /// The record's name in the audit chain, and the fields a load writes.
    fn audit(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Table::PatientJourneys => (patient_journey::Entity::NAME, JOURNEY_FIELDS),
            Table::MlPredictions => (ml_prediction::Entity::NAME, PREDICTION_FIELDS),
            Table::MlAnnotations => (ml_annotation::Entity::NAME, ANNOTATION_FIELDS),
            Table::UserSessions => (user_session::Entity::NAME, SESSION_FIELDS),
            Table::Other(t) => t.0.audit(),
        }
    }

    fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Table::PatientJourneys => (
                &["patient_id", "brand"],
                &[
                    "journey_stage",
                    "data_source",
                    "data_sources_matched",
                    "source_stacking_flag",
                    "source_timestamp",
                    "ingestion_timestamp",
                    "data_lag_hours",
                ],
            ),
            Table::MlPredictions => (
                &["patient_id", "model_id"],
                &[
                    "prediction_score",
                    "model_pr_auc",
                    "rank_metrics",
                    "brier_score",
                ],
            ),
            Table::MlAnnotations => (
                &["patient_id", "annotator_id", "label"],
                &["agreement_score"],
            ),
            Table::UserSessions => (
                &["user_id", "session_start"],
                &[
                    "session_end",
                    "session_duration_seconds",
                    "pages_viewed",
                    "actions_taken",
                ],
            ),
            Table::Other(t) => t.0.columns(),
        }
    }
}

/// How the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated with a header row. Lists (`data_sources_matched`)
    /// are `;`-separated or a JSON array; JSON objects are JSON text.
    Csv,
    /// One JSON object per line, with the API's field names and types.
    Ndjson,
}

/// One row that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based line in the file.
    pub line: u64,
    /// Why, naming the field.
    pub reason: String,
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Data rows read.
    pub read: u64,
    /// Rows inserted.
    pub loaded: u64,
    /// Good rows already in the table (an earlier load of the same rows).
    pub already_present: u64,
    /// Rows refused.
    pub bad: u64,
}

/// A user session to store: imported, or recorded live as it ends
/// (`POST /v1/analytics/user_sessions`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = analytics::NewUserSession)]
pub struct NewUserSession {
    /// The user.
    #[schema(min_length = 1, max_length = 255)]
    pub user_id: String,
    /// Started.
    pub session_start: DateTime<Utc>,
    /// Ended; not before the start.
    pub session_end: Option<DateTime<Utc>>,
    /// Length; defaults to end minus start.
    #[schema(minimum = 0)]
    pub session_duration_seconds: Option<i32>,
    /// Pages viewed.
    #[schema(minimum = 0)]
    pub pages_viewed: Option<i32>,
    /// What the user did (a JSON object).
    #[schema(value_type = Option<Object>)]
    pub actions_taken: Option<serde_json::Value>,
}

/// Records one session as an application ends it: checked as an imported
/// row is, then inserted with its audit entry. The active-users KPI counts
/// it at once.
pub async fn record_user_session(
    store: &Store,
    actor: &Actor,
    new: NewUserSession,
) -> Result<user_session::Model> {
    let mut am = session_row(new, custodian_core::time::now())?;
    let id = Uuid::now_v7();
    am.id = Set(id);
    custodian_core::observe::observe(
        "record_user_session",
        custodian_ledger::record::create_audited(store, actor, id, am, SESSION_FIELDS),
    )
    .await
}

fn session_row(new: NewUserSession, now: DateTime<Utc>) -> Result<user_session::ActiveModel> {
    let mut c = custodian_ledger::record::Check::default();
    c.text("user_id", Some(&new.user_id), 255);
    if new.session_end.is_some_and(|e| e < new.session_start) {
        c.push("session_end", "is before session_start");
    }
    if new.session_duration_seconds.is_some_and(|d| d < 0) {
        c.push("session_duration_seconds", "must not be negative");
    }
    if new.pages_viewed.is_some_and(|p| p < 0) {
        c.push("pages_viewed", "must not be negative");
    }
    c.done()?;
    let duration = new.session_duration_seconds.or_else(|| {
        new.session_end
            .and_then(|e| i32::try_from((e - new.session_start).num_seconds()).ok())
    });
    Ok(user_session::ActiveModel {
        id: Set(Uuid::nil()),
        user_id: Set(new.user_id),
        session_start: Set(new.session_start),
        session_end: Set(new.session_end),
        session_duration_seconds: Set(duration),
        pages_viewed: Set(new.pages_viewed),
        actions_taken: Set(new.actions_taken),
        created_at: Set(now),
    })
}

const SESSION_FIELDS: &[&str] = &[
    "user_id",
    "session_start",
    "session_end",
    "session_duration_seconds",
    "pages_viewed",
    "actions_taken",
];

/// The id of a row: SHA-256 of the table and the row's bytes, as UUID v8.
fn row_id(table: Table, raw: &[u8]) -> Uuid {
    let mut h = Sha256::new();
    h.update(table.name().as_bytes());
    h.update([0]);
    h.update(raw);
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn reason(e: &Error) -> String {
    match e {
        Error::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.name, f.reason))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// A parsed row, ready to insert.
enum Row {
    Journey(patient_journey::ActiveModel),
    Prediction(ml_prediction::ActiveModel),
    Annotation(ml_annotation::ActiveModel),
    Session(user_session::ActiveModel),
    Other(tables::Other, tables::Built),
}

impl Row {
    /// The row, unless a JSON column is over `server.max_json_bytes` (the
    /// cap the API enforces on the same columns).
    fn within_limits(self) -> std::result::Result<Row, String> {
        let checked = match &self {
            Row::Journey(r) => custodian_core::limits::check_json_columns(r),
            Row::Prediction(r) => custodian_core::limits::check_json_columns(r),
            Row::Annotation(r) => custodian_core::limits::check_json_columns(r),
            Row::Session(r) => custodian_core::limits::check_json_columns(r),
            Row::Other(t, r) => return t.0.within_limits(r).map(|()| self),
        };
        checked.map(|()| self).map_err(|e| reason(&e))
    }

    /// The patient a patient-keyed row names.
    fn patient(&self) -> Option<&str> {
        match self {
            Row::Journey(r) => r.patient_id.try_as_ref().map(String::as_str),
            Row::Prediction(r) => r.patient_id.try_as_ref().map(String::as_str),
            Row::Annotation(r) => r.patient_id.try_as_ref().map(String::as_str),
            Row::Session(_) | Row::Other(..) => None,
        }
    }

    fn set_id(&mut self, id: Uuid) {
        match self {
            Row::Journey(r) => r.id = Set(id),
            Row::Prediction(r) => r.id = Set(id),
            Row::Annotation(r) => r.id = Set(id),
            Row::Session(r) => r.id = Set(id),
            Row::Other(t, r) => t.0.set_id(r, id),
        }
    }
}

/// Inserts `rows` of one entity, skipping ids already present; how many went in.
/// The conflict names no columns: on PostgreSQL the key is
/// `(patient_id, id)` (ARCHITECTURE "Distribution keys"), on SQLite `id`,
/// and a row's id is derived from bytes that include its patient.
async fn insert_new<A>(tx: &sea_orm::DatabaseTransaction, rows: Vec<A>) -> Result<u64>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let res = <A::Entity as EntityTrait>::insert_many(rows)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .try_insert()
        .exec_without_returning(tx)
        .await?;
    Ok(match res {
        TryInsertResult::Inserted(n) => n,
        TryInsertResult::Empty | TryInsertResult::Conflicted => 0,
    })
}

/// Splits a batch by kind (a load has one kind) and inserts each.
async fn insert_rows(tx: &sea_orm::DatabaseTransaction, rows: Vec<Row>) -> Result<u64> {
    let (mut j, mut p, mut a, mut s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut other: Option<(tables::Other, Vec<tables::Built>)> = None;
    for r in rows {
        match r {
            Row::Journey(x) => j.push(x),
            Row::Prediction(x) => p.push(x),
            Row::Annotation(x) => a.push(x),
            Row::Session(x) => s.push(x),
            Row::Other(t, x) => other.get_or_insert_with(|| (t, Vec::new())).1.push(x),
        }
    }
    let o = match other {
        Some((t, rows)) => t.0.insert(tx, rows).await?,
        None => 0,
    };
    Ok(insert_new(tx, j).await?
        + insert_new(tx, p).await?
        + insert_new(tx, a).await?
        + insert_new(tx, s).await?
        + o)
}

/// Accumulates rows and writes a batch at a time.
struct Loader<'a> {
    store: &'a Store,
    actor: &'a Actor,
    table: Table,
    source: &'a str,
    batch: usize,
    rows: Vec<Row>,
    first_line: u64,
    last_line: u64,
    report: Report,
}

impl Loader<'_> {
    fn pending(&self) -> usize {
        self.rows.len()
    }

    async fn push(&mut self, line: u64, row: Row) -> Result<()> {
        if self.pending() == 0 {
            self.first_line = line;
        }
        self.last_line = line;
        self.rows.push(row);
        if self.pending() >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let n = self.pending() as u64;
        if n == 0 {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let (entity, fields) = self.table.audit();
        let change = self.actor.change(
            "import",
            entity,
            format!("{}:{}-{}", self.source, self.first_line, self.last_line),
            fields,
        );
        let inserted = self
            .store
            .transaction(move |tx| {
                Box::pin(async move {
                    // A batch naming an erased patient is refused whole (409).
                    let patients: Vec<&str> = rows.iter().filter_map(Row::patient).collect();
                    crate::erase::hold(tx, &patients).await?;
                    let inserted = insert_rows(tx, rows).await?;
                    if inserted > 0 {
                        audit::record(tx, &change).await?;
                    }
                    Ok::<u64, Error>(inserted)
                })
            })
            .await?;
        self.report.loaded += inserted;
        self.report.already_present += n.saturating_sub(inserted);
        Ok(())
    }
}

fn opt(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

fn parse_time(name: &str, v: Option<&str>) -> std::result::Result<Option<DateTime<Utc>>, String> {
    opt(v)
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("{name}: {s:?} is not an RFC 3339 time ({e})"))
        })
        .transpose()
}

fn parse_int(name: &str, v: Option<&str>) -> std::result::Result<Option<i32>, String> {
    opt(v)
        .map(|s| {
            s.parse::<i32>()
                .map_err(|_| format!("{name}: {s:?} is not a whole number"))
        })
        .transpose()
}

fn parse_float(name: &str, v: Option<&str>) -> std::result::Result<Option<f64>, String> {
    opt(v)
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{name}: {s:?} is not a number"))
        })
        .transpose()
}

fn parse_bool(name: &str, v: Option<&str>) -> std::result::Result<Option<bool>, String> {
    match opt(v).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true" | "t" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "f" | "0" | "no") => Ok(Some(false)),
        Some(other) => Err(format!("{name}: {other:?} is not true or false")),
    }
}

fn parse_json(
    name: &str,
    v: Option<&str>,
) -> std::result::Result<Option<serde_json::Value>, String> {
    opt(v)
        .map(|s| serde_json::from_str(s).map_err(|e| format!("{name}: not JSON ({e})")))
        .transpose()
}

fn parse_list(name: &str, v: Option<&str>) -> std::result::Result<Option<Vec<String>>, String> {
    match opt(v) {
        None => Ok(None),
        Some(s) if s.starts_with('[') => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| format!("{name}: not a JSON list of strings ({e})")),
        Some(s) => Ok(Some(
            s.split(';')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
    }
}

/// A CSV record by column name.
struct Fields<'a> {
    header: &'a [String],
    record: &'a csv::StringRecord,
}

impl Fields<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| self.record.get(i))
    }

    fn required(&self, name: &str) -> std::result::Result<String, String> {
        opt(self.get(name))
            .map(str::to_owned)
            .ok_or_else(|| format!("{name}: is required"))
    }
}

fn csv_row(
    table: Table,
    f: &Fields<'_>,
    config: &SplitConfig,
    now: DateTime<Utc>,
) -> std::result::Result<Row, String> {
    match table {
        Table::PatientJourneys => {
            let new = NewPatientJourney {
                patient_id: f.required("patient_id")?,
                brand: f.required("brand")?,
                journey_stage: opt(f.get("journey_stage")).map(str::to_owned),
                data_source: opt(f.get("data_source")).map(str::to_owned),
                data_sources_matched: parse_list(
                    "data_sources_matched",
                    f.get("data_sources_matched"),
                )?,
                source_stacking_flag: parse_bool(
                    "source_stacking_flag",
                    f.get("source_stacking_flag"),
                )?,
                source_timestamp: parse_time("source_timestamp", f.get("source_timestamp"))?,
                ingestion_timestamp: parse_time(
                    "ingestion_timestamp",
                    f.get("ingestion_timestamp"),
                )?,
                data_lag_hours: parse_int("data_lag_hours", f.get("data_lag_hours"))?,
            };
            journey_row(new, config, now)
                .map(Row::Journey)
                .map_err(|e| reason(&e))
        }
        Table::MlPredictions => {
            let new = NewMlPrediction {
                patient_id: f.required("patient_id")?,
                model_id: f.required("model_id")?,
                prediction_score: parse_float("prediction_score", f.get("prediction_score"))?,
                model_pr_auc: parse_float("model_pr_auc", f.get("model_pr_auc"))?,
                rank_metrics: parse_json("rank_metrics", f.get("rank_metrics"))?,
                brier_score: parse_float("brier_score", f.get("brier_score"))?,
            };
            prediction_row(new, config, now)
                .map(Row::Prediction)
                .map_err(|e| reason(&e))
        }
        Table::MlAnnotations => {
            let new = NewMlAnnotation {
                patient_id: f.required("patient_id")?,
                annotator_id: f.required("annotator_id")?,
                label: f.required("label")?,
                agreement_score: parse_float("agreement_score", f.get("agreement_score"))?,
            };
            annotation_row(new, config, now)
                .map(Row::Annotation)
                .map_err(|e| reason(&e))
        }
        Table::UserSessions => {
            let new = NewUserSession {
                user_id: f.required("user_id")?,
                session_start: parse_time("session_start", f.get("session_start"))?
                    .ok_or_else(|| "session_start: is required".to_owned())?,
                session_end: parse_time("session_end", f.get("session_end"))?,
                session_duration_seconds: parse_int(
                    "session_duration_seconds",
                    f.get("session_duration_seconds"),
                )?,
                pages_viewed: parse_int("pages_viewed", f.get("pages_viewed"))?,
                actions_taken: parse_json("actions_taken", f.get("actions_taken"))?,
            };
            session_row(new, now)
                .map(Row::Session)
                .map_err(|e| reason(&e))
        }
        Table::Other(t) => t.0.csv_row(f, now).map(|r| Row::Other(t, r)),
    }
}

fn json_row(
    table: Table,
    line: &str,
    config: &SplitConfig,
    now: DateTime<Utc>,
) -> std::result::Result<Row, String> {
    match table {
        Table::PatientJourneys => {
            let new: NewPatientJourney = serde_json::from_str(line)
                .map_err(|e| format!("not a journey object: {}", json_err(&e)))?;
            journey_row(new, config, now)
                .map(Row::Journey)
                .map_err(|e| reason(&e))
        }
        Table::MlPredictions => {
            let new: NewMlPrediction = serde_json::from_str(line)
                .map_err(|e| format!("not a prediction object: {}", json_err(&e)))?;
            prediction_row(new, config, now)
                .map(Row::Prediction)
                .map_err(|e| reason(&e))
        }
        Table::MlAnnotations => {
            let new: NewMlAnnotation = serde_json::from_str(line)
                .map_err(|e| format!("not a label object: {}", json_err(&e)))?;
            annotation_row(new, config, now)
                .map(Row::Annotation)
                .map_err(|e| reason(&e))
        }
        Table::UserSessions => {
            let new: NewUserSession = serde_json::from_str(line)
                .map_err(|e| format!("not a session object: {}", json_err(&e)))?;
            session_row(new, now)
                .map(Row::Session)
                .map_err(|e| reason(&e))
        }
        Table::Other(t) => t.0.json_row(line, now).map(|r| Row::Other(t, r)),
    }
}

/// serde_json's message without its "at line 1 column N" (the file's line
/// is reported already), with the column kept.
fn json_err(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg
        .rsplit_once(" at line ")
        .map_or(msg.as_str(), |(head, _)| head)
        .to_owned();
    format!("{msg} (column {})", e.column())
}

fn with_id(mut row: Row, id: Uuid) -> Row {
    row.set_id(id);
    row
}

/// What to load and how.
#[derive(Debug, Clone)]
pub struct Load<'a> {
    /// Into which table.
    pub table: Table,
    /// CSV or NDJSON.
    pub format: Format,
    /// The file's name, for the audit chain.
    pub source: &'a str,
    /// Rows per transaction.
    pub batch: usize,
}

/// Loads `input` and reports; `on_bad` hears of each bad row as it is
/// found, `progress` of the bytes read so far.
pub async fn import(
    store: &Store,
    actor: &Actor,
    config: &SplitConfig,
    load: &Load<'_>,
    input: impl Read,
    mut on_bad: impl FnMut(&BadRow),
    mut progress: impl FnMut(u64),
) -> Result<Report> {
    let mut loader = Loader {
        store,
        actor,
        table: load.table,
        source: load.source,
        batch: load.batch.max(1),
        rows: Vec::new(),
        first_line: 0,
        last_line: 0,
        report: Report::default(),
    };
    let now = time::now();
    let mut bad = |report: &mut Report, line: u64, reason: String| {
        report.bad += 1;
        on_bad(&BadRow { line, reason });
    };
    match load.format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(false)
                .trim(csv::Trim::Headers)
                .from_reader(input);
            let header: Vec<String> = reader
                .headers()
                .map_err(|e| {
                    Error::Invalid(vec![custodian_core::FieldError::new(
                        "file",
                        format!("cannot read the header row: {e}"),
                    )])
                })?
                .iter()
                .map(str::to_owned)
                .collect();
            check_header(load.table, &header)?;
            let mut record = csv::StringRecord::new();
            loop {
                let line = reader.position().line();
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map_or(line, |p| p.line());
                        loader.report.read += 1;
                        let f = Fields {
                            header: &header,
                            record: &record,
                        };
                        match csv_row(load.table, &f, config, now).and_then(Row::within_limits) {
                            Ok(row) => {
                                let raw: Vec<&str> = record.iter().collect();
                                let id = row_id(load.table, raw.join("\u{1f}").as_bytes());
                                loader.push(line, with_id(row, id)).await?;
                            }
                            Err(reason) => bad(&mut loader.report, line, reason),
                        }
                    }
                    Err(e) => {
                        loader.report.read += 1;
                        let line = e.position().map_or(line, |p| p.line());
                        bad(&mut loader.report, line, format!("not a CSV row: {e}"));
                        if !matches!(
                            e.kind(),
                            csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                        ) {
                            break;
                        }
                    }
                }
                progress(reader.position().byte());
            }
        }
        Format::Ndjson => {
            let mut reader = std::io::BufReader::new(input);
            let mut buf = String::new();
            let mut line = 0u64;
            let mut bytes = 0u64;
            loop {
                buf.clear();
                let n = match reader.read_line(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        // The line was consumed (read_line reads to the
                        // newline before checking UTF-8): one bad row.
                        line += 1;
                        loader.report.read += 1;
                        bad(
                            &mut loader.report,
                            line,
                            format!("cannot read the line: {e}"),
                        );
                        continue;
                    }
                };
                line += 1;
                bytes += n as u64;
                let text = buf.trim();
                if text.is_empty() {
                    continue;
                }
                loader.report.read += 1;
                match json_row(load.table, text, config, now).and_then(Row::within_limits) {
                    Ok(row) => {
                        let id = row_id(load.table, text.as_bytes());
                        loader.push(line, with_id(row, id)).await?;
                    }
                    Err(reason) => bad(&mut loader.report, line, reason),
                }
                progress(bytes);
            }
        }
    }
    loader.flush().await?;
    Ok(loader.report)
}

/// Every required column present, no unknown ones.
fn check_header(table: Table, header: &[String]) -> Result<()> {
    let (required, optional) = table.columns();
    let mut errs = Vec::new();
    for h in header {
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            errs.push(custodian_core::FieldError::new(
                "header",
                format!(
                    "unknown column {h:?}; {} takes {}",
                    table.name(),
                    required
                        .iter()
                        .chain(optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for r in required {
        if !header.iter().any(|h| h == r) {
            errs.push(custodian_core::FieldError::new(
                "header",
                format!("missing required column {r:?}"),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errs))
    }
}
