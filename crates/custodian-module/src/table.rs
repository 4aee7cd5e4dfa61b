//! A module's tables and where each would live when PostgreSQL is sharded
//! with Citus: declared beside the migrations that make them, so that a
//! schema change which breaks co-location fails a test rather than a
//! future migration to a cluster.

/// Where a table's rows would live on a Citus cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Sharded by this column: one subject's rows (a participant's, a
    /// case's) on one node. Every primary key and unique constraint
    /// includes it, and a foreign key to another distributed table carries
    /// it on both sides.
    Distributed(&'static str),
    /// Small and read by every subject's rows (trials, teams, studies):
    /// copied to every node. It holds no foreign key to a distributed
    /// table.
    Reference,
}

/// One table a module's migrations create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The table's name, as its migration writes it.
    pub name: &'static str,
    /// Where it would live on a Citus cluster.
    pub placement: Placement,
}

impl Table {
    /// A table sharded by `column`.
    pub const fn distributed(name: &'static str, column: &'static str) -> Self {
        Self {
            name,
            placement: Placement::Distributed(column),
        }
    }

    /// A table copied to every node.
    pub const fn reference(name: &'static str) -> Self {
        Self {
            name,
            placement: Placement::Reference,
        }
    }
}
