//! Short builders for module migrations that name tables and columns by
//! string: the names are written out in each migration (not taken from the
//! entities), so a migration keeps creating the same schema as models move on.

use sea_orm_migration::{prelude::*, schema::*};

/// A table or column name.
pub fn n(name: &str) -> Alias {
    Alias::new(name)
}

/// A `timestamptz NOT NULL` column (text on SQLite).
pub fn tstz(col: &str) -> ColumnDef {
    timestamp_with_time_zone(n(col))
}

/// A nullable `timestamptz` column.
pub fn tstz_null(col: &str) -> ColumnDef {
    timestamp_with_time_zone_null(n(col))
}

/// A short text column that may only hold one of `values` (CHECK).
pub fn one_of(col: &str, values: &[&str]) -> ColumnDef {
    string_len(n(col), 20)
        .check(Expr::col(n(col)).is_in(values.iter().copied()))
        .take()
}

/// A table with a UUID v7 key and `created_at`; add the rest.
pub fn keyed_table(name: &str) -> TableCreateStatement {
    Table::create()
        .table(n(name))
        .col(pk_uuid(n("id")))
        .col(tstz("created_at"))
        .take()
}

/// A foreign key from `cols` of `from` to `to_cols` of `to` (composite when
/// there are several).
pub fn fk(from: &str, cols: &[&str], to: &str, to_cols: &[&str]) -> ForeignKeyCreateStatement {
    let mut f = ForeignKey::create();
    f.from_tbl(n(from)).to_tbl(n(to));
    for c in cols {
        f.from_col(n(c));
    }
    for c in to_cols {
        f.to_col(n(c));
    }
    f.take()
}

/// An index `name` on `cols` of `table`.
pub fn index(name: &str, table: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(n(table));
    for c in cols {
        i.col(n(c));
    }
    i.take()
}
