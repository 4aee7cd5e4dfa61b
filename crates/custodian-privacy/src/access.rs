//! Roles and what they may do: the one permission table.
//!
//! A principal holds one [`Role`]. Each route belongs to a [`Module`] and
//! needs [`Access::Read`] (GET) or [`Access::Write`] (anything else).
//! [`permits`] is the whole policy; `custodian keys roles` prints it.

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
    /// Reads analytics (train and validation only) and aggregate data.
    Analyst,
    /// An analyst who may also read the test split, to evaluate models.
    Evaluator,
    /// Reads the audit chain and every module, writes nothing.
    Auditor,
    /// An agent or pipeline: writes module data, reads what it wrote.
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

/// The areas permissions are granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Module {
    /// `/v1/events`
    Events,
    /// `/v1/audit`
    Audit,
    /// `/v1/trials`
    Trials,
    /// `/v1/trials/.../agent_reasoning`: internal prompts, kept apart.
    AgentReasoning,
    /// `/v1/acoustics`
    Acoustics,
    /// `/v1/analytics`
    Analytics,
    /// `/v1/therapy`
    Therapy,
    /// `/v1/claims`
    Claims,
}

impl Module {
    /// Every module, in the order `keys roles` prints them.
    pub const ALL: [Module; 8] = [
        Module::Events,
        Module::Audit,
        Module::Trials,
        Module::AgentReasoning,
        Module::Acoustics,
        Module::Analytics,
        Module::Therapy,
        Module::Claims,
    ];

    /// The module's name in messages and the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Events => "events",
            Module::Audit => "audit",
            Module::Trials => "trials",
            Module::AgentReasoning => "agent_reasoning",
            Module::Acoustics => "acoustics",
            Module::Analytics => "analytics",
            Module::Therapy => "therapy",
            Module::Claims => "claims",
        }
    }
}

/// Reading or changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// GET
    Read,
    /// POST, PUT, PATCH, DELETE
    Write,
}

/// The permission table: may `role` have `access` to `module`?
pub fn permits(role: Role, module: Module, access: Access) -> bool {
    use Access::*;
    use Module::*;
    match role {
        Role::Admin => true,
        Role::Auditor => access == Read && module != AgentReasoning,
        Role::Coordinator => matches!(module, Events | Trials | Claims | Therapy | Acoustics),
        Role::Analyst | Role::Evaluator => {
            access == Read && matches!(module, Events | Analytics | Claims | Acoustics)
        }
        Role::Service => module != Audit,
    }
}

/// `rw`, `r`, or `-` for one cell of the table.
pub fn cell(role: Role, module: Module) -> &'static str {
    match (
        permits(role, module, Access::Read),
        permits(role, module, Access::Write),
    ) {
        (true, true) => "rw",
        (true, false) => "r",
        (false, true) => "w",
        (false, false) => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_and_service_read_agent_reasoning() {
        let readers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| permits(*r, Module::AgentReasoning, Access::Read))
            .collect();
        assert_eq!(readers, [Role::Admin, Role::Service]);
    }

    #[test]
    fn auditors_write_nothing_and_analysts_write_nothing() {
        for m in Module::ALL {
            assert!(!permits(Role::Auditor, m, Access::Write));
            assert!(!permits(Role::Analyst, m, Access::Write));
            assert!(!permits(Role::Evaluator, m, Access::Write));
        }
        assert!(permits(Role::Auditor, Module::Audit, Access::Read));
        assert!(!permits(Role::Coordinator, Module::Audit, Access::Read));
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
