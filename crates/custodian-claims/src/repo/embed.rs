//! `?embed=team,assignee,documents,triage_results`: a case read or a page
//! of cases with its related rows, one query per relation for the whole
//! page (never one per case).
//!
//! Embedded rows follow the request's visibility (deleted ones only with
//! `include_deleted`), and reads of people's records among them (the
//! assignee, documents, triage results) are recorded like any other read.

use custodian_core::{Result, Store, query::QueryError};
use custodian_ledger::{
    audit::Actor,
    record::{Named, Visibility, record_reads},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, ModelTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::CaseView;
use crate::model::{document, team, triage_result, user};

/// Most rows of one relation a request embeds; a page whose cases have more
/// is refused (400) rather than answered in part.
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

/// Fills the asked-for relations of `cases`, recording the reads of the
/// embedded records of people.
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
    let live = |deleted: sea_orm::sea_query::Expr| {
        if vis.include_deleted {
            Condition::all()
        } else {
            Condition::all().add(deleted)
        }
    };
    if what.team {
        let wanted: Vec<Uuid> = cases
            .iter()
            .filter_map(|c| c.case.assigned_team_id)
            .collect();
        let teams = team::Entity::find()
            .filter(team::Column::Id.is_in(wanted))
            .filter(live(team::Column::DeletedAt.is_null()))
            .all(conn)
            .await?;
        for c in cases.iter_mut() {
            let found = teams.iter().find(|t| Some(t.id) == c.case.assigned_team_id);
            c.team = Some(found.cloned());
        }
    }
    if what.assignee {
        let wanted: Vec<Uuid> = cases
            .iter()
            .filter_map(|c| c.case.assigned_user_id)
            .collect();
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(wanted))
            .filter(live(user::Column::DeletedAt.is_null()))
            .all(conn)
            .await?;
        let read: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
        record_reads::<user::Entity>(store, actor, &read).await?;
        for c in cases.iter_mut() {
            let found = users.iter().find(|u| Some(u.id) == c.case.assigned_user_id);
            c.assignee = Some(found.cloned());
        }
    }
    if what.documents {
        use document::Column as C;
        let docs = children::<document::Entity>(
            store,
            actor,
            [C::CaseId, C::DeletedAt, C::CreatedAt, C::Id],
            &ids,
            vis,
        )
        .await?;
        for c in cases.iter_mut() {
            let mine = docs.iter().filter(|d| d.case_id == c.case.id);
            c.documents = Some(mine.cloned().collect());
        }
    }
    if what.triage_results {
        use triage_result::Column as C;
        let results = children::<triage_result::Entity>(
            store,
            actor,
            [C::CaseId, C::DeletedAt, C::CreatedAt, C::Id],
            &ids,
            vis,
        )
        .await?;
        for c in cases.iter_mut() {
            let mine = results.iter().filter(|r| r.case_id == c.case.id);
            c.triage_results = Some(mine.cloned().collect());
        }
    }
    Ok(())
}

/// The live (or, with `include_deleted`, all) rows of a case's child table
/// for `ids`, oldest first, their reads recorded; `cols` are its case id,
/// `deleted_at`, `created_at` and id columns.
async fn children<E>(
    store: &Store,
    actor: &Actor,
    [case_id, deleted_at, created_at, id]: [E::Column; 4],
    ids: &[Uuid],
    vis: Visibility,
) -> Result<Vec<E::Model>>
where
    E: Named,
    E::Model: ModelTrait<Entity = E>,
{
    let mut select = E::find().filter(case_id.is_in(ids.iter().copied()));
    if !vis.include_deleted {
        select = select.filter(deleted_at.is_null());
    }
    let rows = select
        .order_by_asc(created_at)
        .order_by_asc(id)
        .limit(MAX_EMBEDDED + 1)
        .all(store.conn())
        .await?;
    if rows.len() as u64 > MAX_EMBEDDED {
        return Err(QueryError {
            param: "embed".into(),
            reason: format!(
                "this page's cases have more than {MAX_EMBEDDED} {}s; ask for fewer cases \
                 (limit) or list them by case_id=eq.ID",
                E::NAME
            ),
        }
        .into());
    }
    let read: Vec<String> = rows
        .iter()
        .filter_map(|r| match r.get(id) {
            sea_orm::Value::Uuid(Some(u)) => Some(u.to_string()),
            _ => None,
        })
        .collect();
    record_reads::<E>(store, actor, &read).await?;
    Ok(rows)
}
