//! The claims repository, with the seed's function names.
//!
//! Every write runs in one transaction with its audit entry. Rows are soft
//! deleted (`deleted_at`); deleted rows, and archived cases, leave lists and
//! reads unless the caller asks for them (`include_deleted`, an admin right
//! the HTTP layer enforces). Every function is observed per operation in
//! `/metrics`. Reads of cases, documents, triage results and users (records
//! of people) are recorded in the audit chain, lists one entry per page
//! naming the ids; teams hold no personal data and their reads are not.
//!
//! One file per resource (request types, checks, list spec and functions);
//! the helpers more than one of them needs are here.

use chrono::{DateTime, Duration, Utc};
use custodian_core::{Result, Store, observe::observe};
pub use custodian_ledger::record::{Record, Visibility, get, list};
use custodian_ledger::{
    audit::Actor,
    record::{as_bad_ref, ids_of, record_reads},
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::model::{CaseStatus, case, document, team, triage_result, user};

pub mod acting;
mod cases;
mod documents;
mod embed;
mod teams;
mod triage;
mod users;

pub use cases::{
    CasePatch, CaseView, NewCase, case_history, case_spec, create_case, delete_case,
    delete_case_as, get_case, get_case_with, is_breached, list_cases, list_cases_with, update_case,
    update_case_as,
};
pub use documents::{
    DocumentPatch, NewDocument, create_document, delete_document, document_spec, get_document,
    list_documents, update_document,
};
pub use embed::{Embed, MAX_EMBED_LEN, MAX_EMBEDDED, RELATIONS};
pub use teams::{
    NewTeam, TeamPatch, create_team, delete_team, get_team, list_teams, team_spec, update_team,
};
pub use triage::{
    NewTriageResult, TriageResultPatch, create_triage_result, delete_triage_result,
    get_triage_result, list_triage_results, triage_result_spec, update_triage_result,
};
pub use users::{
    NewUser, UserPatch, create_user, delete_user, get_user, list_users, update_user, user_spec,
};

custodian_ledger::record!(case, "case");
custodian_ledger::record!(team, "team");
custodian_ledger::record!(user, "user");
custodian_ledger::record!(document, "document", shard = CaseId);
custodian_ledger::record!(triage_result, "triage_result", shard = CaseId);

/// Rows whose case is live: a deleted case's documents and triage results
/// leave lists with it.
pub(crate) fn of_live_cases(case_id: impl ColumnTrait) -> sea_orm::Condition {
    use sea_orm::sea_query::Query;
    let live = Query::select()
        .column(case::Column::Id)
        .from(case::Entity)
        .and_where(case::Column::DeletedAt.is_null())
        .to_owned();
    sea_orm::Condition::all().add(case_id.in_subquery(live))
}

/// A row of `E` belonging to case `case_id` is, unless `vis` shows deleted
/// rows, a 404 when that case was deleted: it went with its case.
async fn require_live_case<E: Record>(
    conn: &impl ConnectionTrait,
    case_id: Uuid,
    row_id: Uuid,
    vis: Visibility,
) -> Result<()> {
    if vis.include_deleted {
        return Ok(());
    }
    match get::<case::Entity>(conn, case_id, Visibility::default()).await {
        Err(custodian_core::Error::NotFound { .. }) => {
            Err(custodian_ledger::record::not_found::<E>(row_id))
        }
        other => other.map(|_| ()),
    }
}

/// A record that belongs to a case (documents, triage results): it leaves
/// lists and reads with its case.
trait CaseChild: Record {
    /// Its `case_id` column.
    fn case_column() -> Self::Column;
    /// Its case.
    fn case_of(row: &Self::Model) -> Uuid;
}

impl CaseChild for document::Entity {
    fn case_column() -> Self::Column {
        document::Column::CaseId
    }
    fn case_of(row: &document::Model) -> Uuid {
        row.case_id
    }
}

impl CaseChild for triage_result::Entity {
    fn case_column() -> Self::Column {
        triage_result::Column::CaseId
    }
    fn case_of(row: &triage_result::Model) -> Uuid {
        row.case_id
    }
}

/// One child record (document, triage result), its read recorded; a child
/// of a deleted case only when `vis` shows deleted rows.
async fn get_child<E: CaseChild>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    id: Uuid,
    vis: Visibility,
) -> Result<E::Model> {
    let conn = store.conn();
    let row = observe(op, async {
        let row = get::<E>(conn, id, vis).await?;
        require_live_case::<E>(conn, E::case_of(&row), id, vis).await?;
        Ok(row)
    })
    .await?;
    record_reads::<E>(store, actor, &[id.to_string()]).await?;
    Ok(row)
}

/// A page of child records, its read recorded (one entry naming the ids);
/// those of a deleted case only when `vis` shows deleted rows.
async fn list_children<E: CaseChild>(
    store: &Store,
    actor: &Actor,
    op: &'static str,
    spec: &custodian_core::query::ListSpec<E>,
    q: &custodian_core::query::ListQuery,
    vis: Visibility,
    extra: sea_orm::Condition,
) -> Result<custodian_core::query::Page<E::Model>>
where
    E::Model: Sync + sea_orm::ModelTrait<Entity = E>,
{
    let extra = if vis.include_deleted {
        extra
    } else {
        extra.add(of_live_cases(E::case_column()))
    };
    let page = observe(op, list::<E>(store.conn(), spec, q, vis, extra)).await?;
    record_reads::<E>(store, actor, &ids_of::<E>(&page.items)).await?;
    Ok(page)
}

/// When a case created at `created` runs out of an SLA of `hours`.
fn sla_due(created: DateTime<Utc>, hours: i32) -> DateTime<Utc> {
    created + Duration::hours(i64::from(hours))
}

/// Called before reading cases across shards in a transaction that also
/// locks or writes `claims_teams` (a reference table): Citus reads shards in
/// parallel unless told otherwise, and then refuses that write. On
/// PostgreSQL without Citus the setting is an unused placeholder, gone at
/// the transaction's end.
async fn before_a_team_write(conn: &impl ConnectionTrait) -> Result<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
            .await?;
    }
    Ok(())
}

/// The open, live cases of `team_id`, not counting `except`.
async fn open_cases(
    conn: &impl ConnectionTrait,
    team_id: Uuid,
    except: Option<Uuid>,
) -> Result<u64> {
    use case::Column as C;
    before_a_team_write(conn).await?;
    let mut q = case::Entity::find()
        .filter(C::AssignedTeamId.eq(team_id))
        .filter(C::Status.is_in(CaseStatus::OPEN.iter().copied()))
        .filter(C::DeletedAt.is_null());
    if let Some(id) = except {
        q = q.filter(C::Id.ne(id));
    }
    Ok(q.count(conn).await?)
}

/// A missing or deleted case named in a request body is a bad `case_id`.
async fn check_case_ref(conn: &impl ConnectionTrait, case_id: Uuid) -> Result<()> {
    as_bad_ref(
        get::<case::Entity>(conn, case_id, Visibility::default()).await,
        "case_id",
        "no such case",
    )
    .map(|_| ())
}
