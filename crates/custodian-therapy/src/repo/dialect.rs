//! Where SQLite and PostgreSQL differ, in one place: the bind-parameter
//! limit and the bulk insert of sentences, keyword containment, keyword frequency and full-text search.
//! Repository functions ask this module for their backend's piece and stay
//! one code path; the schema side of the same differences (GIN indexes,
//! the `tsvector` column, the FTS5 table and its triggers) lives in the
//! migration.

use custodian_core::Backend;
use sea_orm::sea_query::{Expr, SimpleExpr};
use serde_json::json;

/// How many rows of `cols` bind parameters fit in one statement.
pub(crate) fn rows_per_insert(backend: Backend, cols: usize) -> usize {
    let limit = match backend {
        Backend::Sqlite => 32_766,
        Backend::Postgres => 65_535,
    };
    limit / cols
}

/// PostgreSQL's one-statement insert of a transcript: every row arrives in
/// one JSON array (`$4`, a `json_to_recordset`), so the statement has four
/// bind parameters whatever the length. `$1` is the session, `$2` its
/// client, `$3` the time.
/// SQLite has no such function worth its cost and takes multi-row INSERTs
/// sized by [`rows_per_insert`].
pub(crate) fn sentences_from_json(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Postgres => Some(
            "INSERT INTO therapy_sentences (id, session_id, client_id, start_ms, end_ms, \
             sequence_number, text, speaker, confidence, created_at, updated_at) \
             SELECT r.id, $1, $2, r.start_ms, r.end_ms, r.sequence_number, r.text, r.speaker, \
             r.confidence, $3, $3 FROM json_to_recordset($4::text::json) AS r(id uuid, \
             start_ms bigint, end_ms bigint, sequence_number integer, text text, speaker text, \
             confidence double precision)",
        ),
        Backend::Sqlite => None,
    }
}

/// "The sentence's keywords contain `term`": jsonb containment
/// (GIN-indexed) on PostgreSQL, `json_each` on SQLite.
pub(crate) fn has_keyword(backend: Backend, term: &str) -> SimpleExpr {
    match backend {
        Backend::Postgres => Expr::cust_with_values(
            "\"therapy_sentences\".\"keywords\" @> $1",
            [json!([{ "term": term }])],
        ),
        Backend::Sqlite => Expr::cust_with_values(
            "EXISTS (SELECT 1 FROM json_each(\"therapy_sentences\".\"keywords\") AS k \
             WHERE json_extract(k.value, '$.term') = ?)",
            [term.to_owned()],
        ),
    }
}

/// `term` and `n` (sentences carrying it) for client `$1`, from the same
/// `term`s [`has_keyword`] matches.
pub(crate) fn keyword_frequency_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "SELECT k.value->>'term' AS term, COUNT(*) AS n \
             FROM therapy_sentences s JOIN therapy_sessions ss ON ss.id = s.session_id AND ss.client_id = s.client_id \
             CROSS JOIN LATERAL jsonb_array_elements(s.keywords) AS k(value) \
             WHERE ss.client_id = $1 AND s.keywords IS NOT NULL GROUP BY 1"
        }
        Backend::Sqlite => {
            "SELECT json_extract(k.value, '$.term') AS term, COUNT(*) AS n \
             FROM therapy_sentences s JOIN therapy_sessions ss ON ss.id = s.session_id AND ss.client_id = s.client_id, \
             json_each(s.keywords) AS k \
             WHERE ss.client_id = $1 AND s.keywords IS NOT NULL GROUP BY 1"
        }
    }
}

/// The pieces of a full-text query: where sentences come from (aliased
/// `s`), the match condition, the rank (higher is better) and the marked
/// snippet, each with `$1` bound to [`full_text_query`]'s text.
pub(crate) struct FullText {
    /// The FROM clause.
    pub from: &'static str,
    /// The WHERE condition.
    pub matches: &'static str,
    /// The rank expression.
    pub rank: &'static str,
    /// The snippet expression.
    pub snippet: &'static str,
}

/// PostgreSQL: the stored `tsvector` against `websearch_to_tsquery`;
/// SQLite: the FTS5 table with `bm25` and `snippet()`.
pub(crate) fn full_text(backend: Backend) -> FullText {
    match backend {
        Backend::Postgres => FullText {
            from: "therapy_sentences s",
            matches: "s.text_search @@ websearch_to_tsquery('english', $1)",
            rank: "ts_rank(s.text_search, websearch_to_tsquery('english', $1))::float8",
            snippet: "ts_headline('english', s.text, websearch_to_tsquery('english', $1), \
                      'StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=24, MinWords=8')",
        },
        Backend::Sqlite => FullText {
            from: "therapy_sentences_fts f JOIN therapy_sentences s ON s.id = f.sentence_id",
            matches: "therapy_sentences_fts MATCH $1",
            rank: "-bm25(therapy_sentences_fts)",
            snippet: "snippet(therapy_sentences_fts, 0, '\u{E000}', '\u{E001}', '…', 16)",
        },
    }
}

/// Marks around a match in the database's snippet: private-use characters
/// no transcript holds, turned into `<mark>` only after the text is escaped.
pub(crate) const MARK: (char, char) = ('\u{E000}', '\u{E001}');

/// The text bound as `$1`: the web-search query as given on PostgreSQL,
/// rewritten into FTS5 syntax on SQLite; `None` when nothing can match.
pub(crate) fn full_text_query(backend: Backend, q: &str) -> Option<String> {
    // A query with no positive term (`-zzz`) matches nothing on either
    // backend; PostgreSQL would otherwise read `!'zzz'` as "every sentence".
    let fts5 = super::search::fts5_query(&super::search::parse(q))?;
    match backend {
        Backend::Postgres => Some(q.to_owned()),
        Backend::Sqlite => Some(fts5),
    }
}

/// After an erasure overwrote sentences: SQLite's FTS5 index keeps a
/// deleted entry's tokens in its segments until they are merged, so all
/// segments are merged into one now (`optimize`) and the old segments'
/// pages freed, which `secure_delete` zeroes. PostgreSQL's `tsvector` is a
/// column of the row itself, rewritten with it: nothing to do.
pub(crate) fn purge_search_index(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => {
            Some("INSERT INTO therapy_sentences_fts (therapy_sentences_fts) VALUES ('optimize')")
        }
        Backend::Postgres => None,
    }
}
