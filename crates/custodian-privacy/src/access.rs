//! Roles and what they may do: the one permission table.
//!
//! A principal holds one [`Role`]. Each route belongs to an [`Area`] and
//! needs [`Access::Read`] (GET) or [`Access::Write`] (anything else).
//! [`Area::permits`] is the whole policy; the core declares its areas here
//! and each module its own; `custodian keys roles` prints them all.

use serde::{Deserialize, Serialize};

use crate::splits::Split;

/// What a principal is; decides its permissions and the splits it may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including keys and agent reasoning.
    Admin,
    /// Runs trial outreach and claims work: reads and writes those modules.
    Coordinator,
    /// Reads analytics (train and validation only), claims and events.
    Analyst,
    /// An analyst who may also read the test split, to evaluate models.
    Evaluator,
    /// Reads the audit chain and every module but agent reasoning; writes nothing.
    Auditor,
    /// An agent or pipeline: reads and writes every module's data, including
    /// agent reasoning; not the audit chain.
    Service,
}

impl Role {
    /// Every role, in the order `keys roles` prints them.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Coordinator,
        Role::Analyst,
        Role::Evaluator,
        Role::Auditor,
        Role::Service,
    ];

    /// The name used in keys, config and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coordinator => "coordinator",
            Role::Analyst => "analyst",
            Role::Evaluator => "evaluator",
            Role::Auditor => "auditor",
            Role::Service => "service",
        }
    }

    /// The ML splits this role may read: analyst → train, validation;
    /// evaluator → + test; auditor and admin → all; others → train, validation.
    pub fn allowed_splits(self) -> &'static [Split] {
        use Split::*;
        match self {
            Role::Admin | Role::Auditor => &[Train, Validation, Test, Holdout],
            Role::Evaluator => &[Train, Validation, Test],
            Role::Analyst | Role::Coordinator | Role::Service => &[Train, Validation],
        }
    }
}

/// What a role may take out, in files, of an area it may read: the
/// permission table's export column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRight {
    /// Rows as stored, or through any de-identification profile.
    Raw,
    /// Only through a de-identification profile.
    Deidentified,
}

impl ExportRight {
    /// `raw` or `deidentified`, for `keys roles` and refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportRight::Raw => "raw",
            ExportRight::Deidentified => "deidentified",
        }
    }
}

impl Role {
    /// Admins may export raw; every other role that may read an area
    /// exports it only de-identified (analysts and evaluators included).
    pub fn export_right(self) -> ExportRight {
        match self {
            Role::Admin => ExportRight::Raw,
            _ => ExportRight::Deidentified,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}; roles: admin, coordinator, analyst, evaluator, auditor, service"))
    }
}

/// One row of the permission table: an area of the API and the roles that
/// may read and write it. The core declares [`EVENTS`] and [`AUDIT`]; each
/// module declares its own, so this crate names no domain module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// The area's name in messages, the audit chain and `keys roles`.
    pub name: &'static str,
    /// Roles that may read (GET). Admin may always.
    pub readers: &'static [Role],
    /// Roles that may change (POST, PUT, PATCH, DELETE). Admin may always.
    pub writers: &'static [Role],
}

/// `/v1/events`: every role reads; coordinators and services write.
pub const EVENTS: Area = Area {
    name: "events",
    readers: &Role::ALL,
    writers: &[Role::Coordinator, Role::Service],
};

/// `/v1/audit`: auditors read; nobody but an admin does anything else.
pub const AUDIT: Area = Area {
    name: "audit",
    readers: &[Role::Auditor],
    writers: &[],
};

/// `POST /v1/<module>/<resource>/{id}/erase`: irreversible, an admin's alone.
pub const ERASURE: Area = Area {
    name: "erasure",
    readers: &[],
    writers: &[],
};

/// The areas every build has, before any module's.
pub const CORE_AREAS: [Area; 3] = [EVENTS, AUDIT, ERASURE];

/// Reading or changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// GET
    Read,
    /// POST, PUT, PATCH, DELETE
    Write,
}

impl Area {
    /// The permission table's rule: may `role` have `access` to this area?
    pub fn permits(&self, role: Role, access: Access) -> bool {
        role == Role::Admin
            || match access {
                Access::Read => self.readers.contains(&role),
                Access::Write => self.writers.contains(&role),
            }
    }

    /// `rw`, `r`, `w` or `-` for one cell of the table.
    pub fn cell(&self, role: Role) -> &'static str {
        match (
            self.permits(role, Access::Read),
            self.permits(role, Access::Write),
        ) {
            (true, true) => "rw",
            (true, false) => "r",
            (false, true) => "w",
            (false, false) => "-",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditors_write_nothing_and_only_admins_write_the_audit_area() {
        for area in CORE_AREAS {
            assert!(!area.permits(Role::Auditor, Access::Write));
            assert!(!area.permits(Role::Analyst, Access::Write));
            assert!(!area.permits(Role::Evaluator, Access::Write));
        }
        assert!(AUDIT.permits(Role::Auditor, Access::Read));
        assert!(!AUDIT.permits(Role::Coordinator, Access::Read));
        assert!(!AUDIT.permits(Role::Service, Access::Read));
        assert!(AUDIT.permits(Role::Admin, Access::Write));
    }

    #[test]
    fn admin_may_do_anything_even_where_no_list_names_it() {
        let locked = Area {
            name: "locked",
            readers: &[],
            writers: &[],
        };
        assert_eq!(locked.cell(Role::Admin), "rw");
        assert_eq!(locked.cell(Role::Service), "-");
        assert_eq!(EVENTS.cell(Role::Analyst), "r");
        assert_eq!(EVENTS.cell(Role::Service), "rw");
    }

    #[test]
    fn only_admins_export_raw() {
        for r in Role::ALL {
            let want = if r == Role::Admin {
                ExportRight::Raw
            } else {
                ExportRight::Deidentified
            };
            assert_eq!(r.export_right(), want, "{r}");
        }
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
