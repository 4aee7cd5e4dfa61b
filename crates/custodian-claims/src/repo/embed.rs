//! `?embed=team,assignee,documents,triage_results`: a case read or a page
//! of cases with its related rows, one query per relation for the whole
//! page (never one per case).
//!
//! Embedded rows follow the request's visibility (deleted ones only with
//! `include_deleted`), and reads of people's records among them (the
//! assignee, documents, triage results) are recorded like any other read.

use custodian_core::{
    Result, Store,
    limits::{max_page_bytes, row_len},
    query::QueryError,
};
use custodian_ledger::{
    audit::Actor,
    record::{Visibility, record_reads},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::CaseView;
use crate::model::{document, team, triage_result, user};

/// Most rows of one relation a request embeds; a page whose cases have more
/// is refused (400) rather than answered in part. Together the embedded rows
/// also stay within `server.max_page_bytes`.
pub const MAX_EMBEDDED: u64 = 1000;

/// Longest `embed` value.
pub const MAX_EMBED_LEN: usize = 200;

/// The relations a case read can bring along.
pub const RELATIONS: &[&str] = &["team", "assignee", "documents", "triage_results"];

/// Which relations a request asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Embed {
    /// The assigned team.
    pub team: bool,
    /// The assigned user.
    pub assignee: bool,
    /// The case's documents, oldest first.
    pub documents: bool,
    /// The case's triage results, oldest first.
    pub triage_results: bool,
}

impl Embed {
    /// Reads `embed=a,b`; a name outside [`RELATIONS`] is a 400 naming them.
    /// A name given twice counts once.
    pub fn parse(raw: Option<&str>) -> std::result::Result<Self, QueryError> {
        let mut e = Self::default();
        let Some(raw) = raw else { return Ok(e) };
        let bad = |reason: String| QueryError {
            param: "embed".into(),
            reason,
        };
        if raw.len() > MAX_EMBED_LEN {
            return Err(bad(format!("at most {MAX_EMBED_LEN} characters")));
        }
        for name in raw.split(',') {
            match name {
                "team" => e.team = true,
                "assignee" => e.assignee = true,
                "documents" => e.documents = true,
                "triage_results" => e.triage_results = true,
                other => {
                    return Err(bad(format!(
                        "{other:?} is not a relation of a case; embed takes {}",
                        RELATIONS.join(", ")
                    )));
                }
            }
        }
        Ok(e)
    }

    fn any(&self) -> bool {
        self.team || self.assignee || self.documents || self.triage_results
    }
}

/// Fills the asked-for relations of `cases`, then records the reads of the
/// embedded records of people. Nothing is recorded when the answer is
/// refused: more than [`MAX_EMBEDDED`] rows of a relation, or embedded rows
/// past `server.max_page_bytes` together (a 400 saying to ask for fewer).
pub async fn embed(
    store: &Store,
    actor: &Actor,
    cases: &mut [CaseView],
    what: Embed,
    vis: Visibility,
) -> Result<()> {
    if !what.any() || cases.is_empty() {
        return Ok(());
    }
    let conn = store.conn();
    let ids: Vec<Uuid> = cases.iter().map(|c| c.case.id).collect();
    let teams = if what.team {
        let wanted = cases.iter().filter_map(|c| c.case.assigned_team_id);
        let mut q = team::Entity::find().filter(team::Column::Id.is_in(wanted));
        if !vis.include_deleted {
            q = q.filter(team::Column::DeletedAt.is_null());
        }
        q.all(conn).await?
    } else {
        Vec::new()
    };
    let users = if what.assignee {
        let wanted = cases.iter().filter_map(|c| c.case.assigned_user_id);
        let mut q = user::Entity::find().filter(user::Column::Id.is_in(wanted));
        if !vis.include_deleted {
            q = q.filter(user::Column::DeletedAt.is_null());
        }
        q.all(conn).await?
    } else {
        Vec::new()
    };
    let docs = if what.documents {
        use document::Column as C;
        let cols = [C::CaseId, C::DeletedAt, C::CreatedAt, C::Id];
        children::<document::Entity>(conn, cols, &ids, vis).await?
    } else {
        Vec::new()
    };
    let results = if what.triage_results {
        use triage_result::Column as C;
        let cols = [C::CaseId, C::DeletedAt, C::CreatedAt, C::Id];
        children::<triage_result::Entity>(conn, cols, &ids, vis).await?
    } else {
        Vec::new()
    };
    let bytes = teams.iter().map(row_len::<team::Entity>).sum::<usize>()
        + users.iter().map(row_len::<user::Entity>).sum::<usize>()
        + docs.iter().map(row_len::<document::Entity>).sum::<usize>()
        + results
            .iter()
            .map(row_len::<triage_result::Entity>)
            .sum::<usize>();
    if bytes > max_page_bytes() {
        return Err(refuse(format!(
            "the embedded rows of this page pass server.max_page_bytes ({} bytes); ask for \
             fewer cases (limit) or fewer relations",
            max_page_bytes()
        )));
    }
    let read = |ids: Vec<Uuid>| ids.iter().map(Uuid::to_string).collect::<Vec<_>>();
    record_reads::<user::Entity>(store, actor, &read(users.iter().map(|u| u.id).collect())).await?;
    record_reads::<document::Entity>(store, actor, &read(docs.iter().map(|d| d.id).collect()))
        .await?;
    let result_ids = results.iter().map(|r| r.id).collect();
    record_reads::<triage_result::Entity>(store, actor, &read(result_ids)).await?;
    for c in cases.iter_mut() {
        let (team_id, user_id, id) = (c.case.assigned_team_id, c.case.assigned_user_id, c.case.id);
        if what.team {
            c.team = Some(teams.iter().find(|t| Some(t.id) == team_id).cloned());
        }
        if what.assignee {
            c.assignee = Some(users.iter().find(|u| Some(u.id) == user_id).cloned());
        }
        if what.documents {
            c.documents = Some(docs.iter().filter(|d| d.case_id == id).cloned().collect());
        }
        if what.triage_results {
            let mine = results.iter().filter(|r| r.case_id == id);
            c.triage_results = Some(mine.cloned().collect());
        }
    }
    Ok(())
}

fn refuse(reason: String) -> custodian_core::Error {
    QueryError {
        param: "embed".into(),
        reason,
    }
    .into()
}

/// The live (or, with `include_deleted`, all) rows of a case's child table
/// for `ids`, oldest first; `cols` are its case id, `deleted_at`,
/// `created_at` and id columns.
async fn children<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    [case_id, deleted_at, created_at, id]: [E::Column; 4],
    ids: &[Uuid],
    vis: Visibility,
) -> Result<Vec<E::Model>> {
    let mut select = E::find().filter(case_id.is_in(ids.iter().copied()));
    if !vis.include_deleted {
        select = select.filter(deleted_at.is_null());
    }
    let rows = select
        .order_by_asc(created_at)
        .order_by_asc(id)
        .limit(MAX_EMBEDDED + 1)
        .all(conn)
        .await?;
    if rows.len() as u64 > MAX_EMBEDDED {
        return Err(refuse(format!(
            "this page's cases have more than {MAX_EMBEDDED} {}s; ask for fewer cases \
             (limit) or list them by case_id=eq.ID",
            E::default()
                .table_name()
                .trim_start_matches("claims_")
                .trim_end_matches('s')
        )));
    }
    Ok(rows)
}
