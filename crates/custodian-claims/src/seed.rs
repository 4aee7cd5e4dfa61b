//! Demo data: four teams, eight users and a few hundred cases, made through
//! the repository (so every row is audited like any other write) from a
//! fixed seed, so two runs make the same data.

use custodian_core::{Result, Store, splitmix::SplitMix64};
use custodian_ledger::audit::Actor;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::{
    model::{CaseStatus, CaseType, RiskLevel, UrgencyLevel, UserRole, team},
    repo::{self, CasePatch, NewCase, NewTeam, NewUser},
};

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Teams created.
    pub teams: usize,
    /// Users created.
    pub users: usize,
    /// Cases created.
    pub cases: usize,
    /// False when the demo data was already there and nothing was written.
    pub created: bool,
}

const TEAMS: &[(&str, i32, i32)] = &[
    ("Auto Claims", 120, 48),
    ("Property & Liability", 80, 72),
    ("Health & Life", 60, 24),
    ("Special Investigations", 20, 12),
];

const USERS: &[(&str, &str, UserRole, usize)] = &[
    (
        "ana.silva@example.com",
        "Ana Silva",
        UserRole::Supervisor,
        0,
    ),
    (
        "ben.okafor@example.com",
        "Ben Okafor",
        UserRole::Adjuster,
        0,
    ),
    (
        "carla.meyer@example.com",
        "Carla Meyer",
        UserRole::Supervisor,
        1,
    ),
    ("dev.patel@example.com", "Dev Patel", UserRole::Adjuster, 1),
    ("eun.kim@example.com", "Eun Kim", UserRole::Adjuster, 2),
    (
        "farah.haddad@example.com",
        "Farah Haddad",
        UserRole::Reviewer,
        2,
    ),
    (
        "gus.lindqvist@example.com",
        "Gus Lindqvist",
        UserRole::Adjuster,
        3,
    ),
    ("hana.sato@example.com", "Hana Sato", UserRole::Viewer, 3),
];

/// Two decimals in 0..=1, for scores.
fn unit(rng: &mut SplitMix64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // two decimals of a score
    let x = (rng.next_u64() % 101) as f64;
    x / 100.0
}

/// Loads the demo data unless it is already there.
pub async fn seed(store: &Store, actor: &Actor, cases: usize) -> Result<SeedReport> {
    let exists = team::Entity::find()
        .filter(team::Column::Name.eq(TEAMS[0].0))
        .count(store.conn())
        .await?
        > 0;
    if exists {
        return Ok(SeedReport {
            teams: 0,
            users: 0,
            cases: 0,
            created: false,
        });
    }
    let mut teams = Vec::new();
    for (name, capacity, sla) in TEAMS {
        let t = repo::create_team(
            store,
            actor,
            NewTeam {
                name: (*name).to_owned(),
                description: None,
                capacity: *capacity,
                sla_target_hours: *sla,
            },
        )
        .await?;
        teams.push(t.id);
    }
    let mut users = Vec::new();
    for (email, name, role, team) in USERS {
        let u = repo::create_user(
            store,
            actor,
            NewUser {
                email: (*email).to_owned(),
                full_name: (*name).to_owned(),
                role: *role,
                team_id: Some(teams[*team]),
                is_active: None,
            },
        )
        .await?;
        users.push((u.id, *team));
    }
    let types = [
        CaseType::Auto,
        CaseType::Property,
        CaseType::Health,
        CaseType::Life,
        CaseType::Liability,
    ];
    let urgencies = [
        UrgencyLevel::Low,
        UrgencyLevel::Medium,
        UrgencyLevel::High,
        UrgencyLevel::Critical,
    ];
    let risks = [
        RiskLevel::Low,
        RiskLevel::Medium,
        RiskLevel::High,
        RiskLevel::Critical,
    ];
    // Where each claim came in, as intake metadata (`metadata->>channel=eq.web`).
    const CHANNELS: [&str; 3] = ["web", "phone", "agent"];
    let mut rng = SplitMix64::new(0x5EED_2004);
    for i in 0..cases {
        let case_type = rng.pick(&types);
        let c = repo::create_case(
            store,
            actor,
            NewCase {
                external_id: format!("CLAIM-{:05}", i + 1),
                case_type,
                title: format!("{case_type} claim {}", i + 1),
                description: None,
                urgency_level: Some(rng.pick(&urgencies)),
                risk_level: Some(rng.pick(&risks)),
                risk_score: Some(unit(&mut rng)),
                priority_score: Some(unit(&mut rng)),
                assigned_team_id: None,
                assigned_user_id: None,
                metadata: Some(serde_json::json!({"channel": CHANNELS[i % CHANNELS.len()]})),
            },
        )
        .await?;
        // About half stay pending and unassigned; the rest are assigned to
        // the team for their type and moved along the workflow.
        let roll = rng.next_u64() % 10;
        if roll < 5 {
            continue;
        }
        let team = match case_type {
            CaseType::Auto => 0,
            CaseType::Property | CaseType::Liability => 1,
            CaseType::Health | CaseType::Life => 2,
        };
        let team = if roll == 9 { 3 } else { team };
        let user = users.iter().find(|(_, t)| *t == team).map(|(u, _)| *u);
        let status = match roll {
            5 | 6 => CaseStatus::InProgress,
            7 => CaseStatus::PendingInfo,
            8 => CaseStatus::Resolved,
            _ => CaseStatus::Escalated,
        };
        let assign = CasePatch {
            assigned_team_id: Some(Some(teams[team])),
            assigned_user_id: Some(user),
            status: Some(if status == CaseStatus::Resolved {
                CaseStatus::InProgress
            } else {
                status
            }),
            ..CasePatch::default()
        };
        match repo::update_case(store, actor, c.case.id, assign).await {
            Ok(_) => {}
            // A full team leaves the case pending, as it would in real life.
            Err(custodian_core::Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
        if status == CaseStatus::Resolved {
            let resolve = CasePatch {
                status: Some(CaseStatus::Resolved),
                ..CasePatch::default()
            };
            repo::update_case(store, actor, c.case.id, resolve).await?;
        }
    }
    Ok(SeedReport {
        teams: teams.len(),
        users: users.len(),
        cases,
        created: true,
    })
}
