//! Keywords: one stored shape that serves both containment search and
//! frequency counts.
//!
//! A sentence's `keywords` is a JSON array of `{"term": "sleep", "score":
//! 0.8}` objects (`score` optional), terms trimmed, lower-case and unique
//! within the sentence. The seed wrote `{"term": kw}` for search and used
//! object keys as keywords for frequency, so the two disagreed; here
//! search asks "does the array contain `{"term": t}`" and frequency counts
//! the `term`s, so a term found by one is counted by the other.

use std::collections::BTreeMap;

use custodian_core::{Result, Store, observe::observe};
use custodian_ledger::{audit::Actor, record::Check};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{LIVE, Window, dialect, record_ids};
use crate::model::{client, sentence, session};

/// The most keywords one sentence may carry.
pub const MAX_KEYWORDS: usize = 100;
/// The longest keyword, in characters.
pub const MAX_TERM: usize = 100;

/// One keyword of a sentence.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = therapy::Keyword)]
pub struct Keyword {
    /// The keyword; stored trimmed and lower-case.
    #[schema(min_length = 1, max_length = 100)]
    pub term: String,
    /// How strongly it applies, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub score: Option<f64>,
}

/// A term as stored and searched: trimmed, lower-case.
pub fn normalize_term(term: &str) -> String {
    term.trim().to_lowercase()
}

/// Checks `keywords` into `c` and gives their stored form.
pub(crate) fn keywords_json(c: &mut Check, keywords: Vec<Keyword>) -> Value {
    if keywords.len() > MAX_KEYWORDS {
        c.push("keywords", "holds more than 100 keywords");
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(keywords.len());
    for k in keywords {
        let term = normalize_term(&k.term);
        if term.is_empty() || term.chars().count() > MAX_TERM {
            c.push("keywords.term", "must be 1 to 100 characters");
        } else if !seen.insert(term.clone()) {
            c.push("keywords.term", "appears twice in one sentence");
        }
        if k.score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            c.push("keywords.score", "must be between 0 and 1");
        }
        out.push(match k.score {
            Some(s) => json!({"term": term, "score": s}),
            None => json!({"term": term}),
        });
    }
    Value::Array(out)
}

/// Sentences joined to their sessions, for queries by client.
/// A sentence's session, joined on the client as well as the session: the
/// pair is the foreign key, and a join Citus runs on one node (the tables
/// are sharded by client; ARCHITECTURE "Distribution keys").
pub(crate) fn sentence_session() -> sea_orm::RelationDef {
    sentence::Entity::belongs_to(session::Entity)
        .from((sentence::Column::SessionId, sentence::Column::ClientId))
        .to((session::Column::Id, session::Column::ClientId))
        .into()
}

/// The seed's `search_keywords(client_id, keyword)`: the client's
/// sentences carrying the keyword, by session date and start time, a page
/// at a time. The read is recorded (sentence ids; never the keyword).
pub async fn search_keywords(
    store: &Store,
    actor: &Actor,
    client_id: Uuid,
    keyword: &str,
    w: Window,
) -> Result<Vec<sentence::Model>> {
    let mut c = Check::default();
    c.text("term", Some(keyword), MAX_TERM);
    c.done()?;
    w.check()?;
    custodian_ledger::record::get::<client::Entity>(store.conn(), client_id, LIVE).await?;
    let term = normalize_term(keyword);
    let rows = observe("search_keywords", async {
        Ok(sentence::Entity::find()
            .join(JoinType::InnerJoin, sentence_session())
            .filter(session::Column::ClientId.eq(client_id))
            .filter(dialect::has_keyword(store.backend(), &term))
            .order_by_asc(session::Column::Date)
            .order_by_asc(sentence::Column::SessionId)
            .order_by_asc(sentence::Column::StartMs)
            .order_by_asc(sentence::Column::SequenceNumber)
            .limit(w.limit)
            .offset(w.offset)
            .all(store.conn())
            .await?)
    })
    .await?;
    record_ids::<sentence::Entity>(store, actor, rows.iter().map(|s| s.id)).await?;
    Ok(rows)
}

/// How often each keyword occurs in the client's sentences (the number of
/// sentences carrying it), read from the same `term`s search matches.
pub async fn keyword_frequency(store: &Store, client_id: Uuid) -> Result<BTreeMap<String, i64>> {
    let conn = store.conn();
    let sql = dialect::keyword_frequency_sql(store.backend());
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [client_id.into()],
        ))
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let term: Option<String> = r.try_get("", "term")?;
        let n: i64 = r.try_get("", "n")?;
        if let Some(t) = term {
            out.insert(t, n);
        }
    }
    Ok(out)
}
