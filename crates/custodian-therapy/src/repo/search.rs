//! Full-text search over sentence text, one API on both backends.
//!
//! PostgreSQL matches the stored `tsvector` (English configuration, GIN
//! index) against `websearch_to_tsquery('english', q)`, ranks with
//! `ts_rank` and marks the snippet with `ts_headline`. SQLite matches the
//! FTS5 table (`porter unicode61` tokenizer), ranks with `bm25` and marks
//! the snippet with `snippet()`. Both stem English (`worried` finds
//! `worry`), so for the same corpus and a simple term query they return
//! the same sentences; ranks and snippet boundaries differ. PostgreSQL also
//! drops English stop words (`the`, `and`), which FTS5 keeps.
//!
//! The query language is the web-search one on both: words (all must
//! match), `"quoted phrases"`, `or` between alternatives and `-word` to
//! exclude. On SQLite the query is rewritten into FTS5 syntax with every
//! word quoted, so no input is an FTS5 syntax error.

use chrono::{DateTime, Utc};
use custodian_core::{Result, Store, observe::observe};
use custodian_ledger::{audit::Actor, record::Check};
use sea_orm::{ConnectionTrait, Statement, Value};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    Window,
    dialect::{self, FullText},
    record_ids,
};
use crate::model::sentence;

/// The longest query, in characters.
pub const MAX_QUERY: usize = 500;

/// What to search for and where.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Web-search syntax: words, `"phrases"`, `or`, `-word`; 1 to 500 characters.
    #[param(min_length = 1, max_length = 500)]
    pub q: String,
    /// Only this client's sessions.
    pub client_id: Option<Uuid>,
    /// Only this session.
    pub session_id: Option<Uuid>,
    /// Only sessions on or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only sessions before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// Rows to skip, at most 10000.
    #[param(maximum = 10000)]
    pub offset: Option<u64>,
}

/// One sentence that matched.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::SearchHit)]
pub struct SearchHit {
    /// The sentence.
    pub sentence_id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// The session's client.
    pub client_id: Uuid,
    /// When the session took place.
    pub session_date: DateTime<Utc>,
    /// Start, in milliseconds.
    pub start_ms: i64,
    /// End, in milliseconds.
    pub end_ms: i64,
    /// Who said it.
    pub speaker: String,
    /// Relevance, higher is better (comparable within one answer only).
    pub rank: f64,
    /// The matching text as HTML: escaped, with matches in `<mark>...</mark>`.
    pub snippet: String,
}

/// A page of hits, best first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = therapy::SearchPage)]
pub struct SearchPage {
    /// The hits.
    pub items: Vec<SearchHit>,
    /// The `offset` of the next page, when there is one.
    pub next_offset: Option<u64>,
}

/// One part of a web-search query.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    Word(String),
    Phrase(String),
    Not(String),
    Or,
}

/// Splits a web-search query into words, phrases, exclusions and `or`s;
/// punctuation inside words separates them, as both tokenizers do.
pub(super) fn parse(q: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = q;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"').unwrap_or(after.len());
            let words = words(&after[..end]);
            if !words.is_empty() {
                parts.push(Part::Phrase(words.join(" ")));
            }
            rest = after.get(end + 1..).unwrap_or("");
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..end];
        rest = &rest[end..];
        if token.eq_ignore_ascii_case("or") {
            parts.push(Part::Or);
        } else if let Some(neg) = token.strip_prefix('-') {
            parts.extend(words(neg).into_iter().map(Part::Not));
        } else {
            parts.extend(words(token).into_iter().map(Part::Word));
        }
    }
    parts
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The query in FTS5 syntax: each word or phrase quoted, `OR` kept
/// between two terms, exclusions as `NOT` after the rest (FTS5 has no
/// leading `NOT`). `None` when nothing positive is left to match.
pub(super) fn fts5_query(parts: &[Part]) -> Option<String> {
    let mut positive = String::new();
    let mut pending_or = false;
    for p in parts {
        match p {
            Part::Word(w) | Part::Phrase(w) => {
                if !positive.is_empty() {
                    positive.push_str(if pending_or { " OR " } else { " AND " });
                }
                positive.push('"');
                positive.push_str(w);
                positive.push('"');
                pending_or = false;
            }
            Part::Or => pending_or = !positive.is_empty(),
            Part::Not(_) => {}
        }
    }
    if positive.is_empty() {
        return None;
    }
    let mut q = format!("({positive})");
    for p in parts {
        if let Part::Not(w) = p {
            q.push_str(&format!(" NOT \"{w}\""));
        }
    }
    Some(q)
}

/// Searches sentence text, best first, narrowed by client, session and
/// session date. Each page's read is recorded, naming the sentences (never
/// the query).
pub async fn search_transcripts(
    store: &Store,
    actor: &Actor,
    q: &SearchQuery,
) -> Result<SearchPage> {
    let w = Window {
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
    };
    let mut c = Check::default();
    c.text("q", Some(&q.q), MAX_QUERY);
    c.done()?;
    w.check()?;
    let backend = store.backend();
    let Some(text) = dialect::full_text_query(backend, &q.q) else {
        return Ok(SearchPage {
            items: Vec::new(),
            next_offset: None,
        });
    };
    let FullText {
        from,
        matches,
        rank,
        snippet,
    } = dialect::full_text(backend);
    let mut values: Vec<Value> = vec![text.into()];
    let mut filters = String::new();
    let mut narrow = |sql: &str, v: Value| {
        values.push(v);
        filters.push_str(&format!(" AND {sql} ${}", values.len()));
    };
    if let Some(id) = q.client_id {
        narrow("ss.client_id =", id.into());
    }
    if let Some(id) = q.session_id {
        narrow("s.session_id =", id.into());
    }
    if let Some(t) = q.from {
        narrow("ss.date >=", t.into());
    }
    if let Some(t) = q.to {
        narrow("ss.date <", t.into());
    }
    let sql = format!(
        "SELECT s.id AS sentence_id, s.session_id, ss.client_id, ss.date AS session_date, \
         s.start_ms, s.end_ms, s.speaker, {rank} AS rank, {snippet} AS snippet \
         FROM {from} JOIN therapy_sessions ss ON ss.id = s.session_id AND ss.client_id = s.client_id \
         WHERE {matches}{filters} ORDER BY rank DESC, s.id LIMIT {} OFFSET {}",
        w.limit + 1,
        w.offset
    );
    let rows = observe("search_transcripts", async {
        Ok(store
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                store.conn().get_database_backend(),
                sql,
                values,
            ))
            .await?)
    })
    .await?;
    let next_offset = w.next(rows.len());
    let mut items = Vec::with_capacity(rows.len());
    for r in rows.into_iter().take(w.limit as usize) {
        items.push(SearchHit {
            sentence_id: r.try_get("", "sentence_id")?,
            session_id: r.try_get("", "session_id")?,
            client_id: r.try_get("", "client_id")?,
            session_date: r.try_get("", "session_date")?,
            start_ms: r.try_get("", "start_ms")?,
            end_ms: r.try_get("", "end_ms")?,
            speaker: r.try_get("", "speaker")?,
            rank: r.try_get::<f64>("", "rank")?,
            snippet: html_snippet(&r.try_get::<String>("", "snippet")?),
        });
    }
    record_ids::<sentence::Entity>(store, actor, items.iter().map(|h| h.sentence_id)).await?;
    Ok(SearchPage { items, next_offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_so_no_input_is_an_fts5_syntax_error() {
        assert_eq!(
            fts5_query(&parse("worried NEAR( \"sleep * badly\" or -work")).as_deref(),
            Some("(\"worried\" AND \"near\" AND \"sleep badly\") NOT \"work\"")
        );
    }

    #[test]
    fn or_joins_its_neighbours_and_only_exclusions_match_nothing() {
        assert_eq!(
            fts5_query(&parse("anxious or worried")).as_deref(),
            Some("(\"anxious\" OR \"worried\")")
        );
        assert_eq!(fts5_query(&parse("-work or")), None);
        assert_eq!(fts5_query(&parse("  \"\" ")), None);
    }
}

/// The snippet as HTML a client can insert as is: the sentence's text
/// escaped (a transcript may hold `<script>`), its matches in `<mark>`.
fn html_snippet(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    for ch in raw.chars() {
        match ch {
            c if c == super::dialect::MARK.0 => out.push_str("<mark>"),
            c if c == super::dialect::MARK.1 => out.push_str("</mark>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod snippet_tests {
    use super::{super::dialect::MARK, html_snippet};

    #[test]
    fn a_snippet_is_escaped_html_with_its_matches_marked() {
        let raw = format!(
            "<script>alert('x')</script> & {}worry{} \"now\"",
            MARK.0, MARK.1
        );
        assert_eq!(
            html_snippet(&raw),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <mark>worry</mark> &quot;now&quot;"
        );
    }
}
