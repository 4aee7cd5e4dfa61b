//! Trials: their criteria, visit templates and hours, and the demo trial
//! Diabetes Study A.

use custodian_core::{
    Error, Result, Store,
    observe::observe,
    query::{Dir, FieldType, ListQuery, ListSpec, Page},
    time,
};
use custodian_ledger::{
    audit::{self, Actor},
    change,
    record::{Check, Named, insert_audited, nullable},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    hours::{OperatingHours, OperatingHoursSchema},
    model::trial,
};

/// Trials are keyed by their own `trial_id`, so they are named but not a
/// generic [`custodian_ledger::record::Record`].
impl Named for trial::Entity {
    const NAME: &'static str = "trial";
}

/// A trial to create.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::NewTrial)]
pub struct NewTrial {
    /// Made from a random suffix (`trial-1a2b3c4d`) when absent.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$", max_length = 64)]
    pub trial_id: Option<String>,
    /// Display name.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// What the study is.
    pub description: Option<String>,
    /// `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub inclusion_criteria: Option<serde_json::Value>,
    /// `{}` when absent.
    #[schema(value_type = Option<Object>)]
    pub exclusion_criteria: Option<serde_json::Value>,
    /// A list of `{"visit_type": ...}` objects; `[]` when absent.
    #[schema(value_type = Option<Vec<VisitTemplate>>, inline)]
    pub visit_templates: Option<serde_json::Value>,
    /// `{}` (no restriction) when absent; bookings must fall within them.
    #[schema(value_type = Option<OperatingHoursSchema>)]
    pub operating_hours: Option<serde_json::Value>,
    /// Defaults to true.
    pub active: Option<bool>,
}

/// One visit of a trial's schedule as the OpenAPI document describes it:
/// a `visit_type` and whatever other keys the site keeps with it.
#[derive(ToSchema)]
#[allow(dead_code)] // only describes the JSON that `visit_templates` holds
pub struct VisitTemplate {
    /// The kind of visit, e.g. `screening`.
    pub visit_type: String,
}

/// Changes to a trial.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = trials::TrialPatch)]
pub struct TrialPatch {
    /// New name.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// New description; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces the inclusion criteria.
    #[schema(value_type = Option<Object>)]
    pub inclusion_criteria: Option<serde_json::Value>,
    /// Replaces the exclusion criteria.
    #[schema(value_type = Option<Object>)]
    pub exclusion_criteria: Option<serde_json::Value>,
    /// Replaces the visit templates.
    #[schema(value_type = Option<Vec<VisitTemplate>>, inline)]
    pub visit_templates: Option<serde_json::Value>,
    /// Replaces the operating hours; `{}` removes the restriction.
    #[schema(value_type = Option<OperatingHoursSchema>)]
    pub operating_hours: Option<serde_json::Value>,
    /// Open or close recruiting.
    pub active: Option<bool>,
}

/// A trial's inclusion and exclusion criteria.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = trials::Criteria)]
pub struct Criteria {
    /// Who may take part.
    #[schema(value_type = Object)]
    pub inclusion: serde_json::Value,
    /// Who may not.
    #[schema(value_type = Object)]
    pub exclusion: serde_json::Value,
}

fn check_trial_json(
    c: &mut Check,
    templates: Option<&serde_json::Value>,
    hours: Option<&serde_json::Value>,
    objects: &[(&'static str, Option<&serde_json::Value>)],
) {
    if let Some(Err(why)) = hours.map(OperatingHours::parse) {
        c.push("operating_hours", &why);
    }
    if let Some(t) = templates {
        let ok = t.as_array().is_some_and(|a| {
            a.iter()
                .all(|v| v.get("visit_type").and_then(|s| s.as_str()).is_some())
        });
        if !ok {
            c.push(
                "visit_templates",
                "must be a list of objects, each with a \"visit_type\" string",
            );
        }
    }
    for (name, v) in objects {
        if v.is_some_and(|v| !v.is_object()) {
            c.push(name, "must be a JSON object");
        }
    }
}

fn check_trial_id(c: &mut Check, id: Option<&str>) {
    if let Some(id) = id
        && (id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'))
    {
        c.push(
            "trial_id",
            "must be 1 to 64 characters of a-z, 0-9, '-' and '_'",
        );
    }
}

/// Creates a trial (the id is made up when absent). A taken id is a 409.
pub async fn create_trial(store: &Store, actor: &Actor, new: NewTrial) -> Result<trial::Model> {
    let mut c = Check::default();
    check_trial_id(&mut c, new.trial_id.as_deref());
    c.text("name", Some(&new.name), 200);
    check_trial_json(
        &mut c,
        new.visit_templates.as_ref(),
        new.operating_hours.as_ref(),
        &[
            ("inclusion_criteria", new.inclusion_criteria.as_ref()),
            ("exclusion_criteria", new.exclusion_criteria.as_ref()),
        ],
    );
    c.done()?;
    let actor = actor.clone();
    let res = observe(
        "create_trial",
        store.transaction(|tx| {
            Box::pin(async move {
                let trial_id = new.trial_id.unwrap_or_else(|| {
                    let id = Uuid::now_v7().simple().to_string();
                    format!("trial-{}", &id[id.len() - 8..])
                });
                let now = time::now();
                let empty = || serde_json::json!({});
                let am = trial::ActiveModel {
                    trial_id: Set(trial_id.clone()),
                    name: Set(new.name.trim().to_owned()),
                    description: Set(new.description),
                    inclusion_criteria: Set(new.inclusion_criteria.unwrap_or_else(empty)),
                    exclusion_criteria: Set(new.exclusion_criteria.unwrap_or_else(empty)),
                    visit_templates: Set(new
                        .visit_templates
                        .unwrap_or_else(|| serde_json::json!([]))),
                    operating_hours: Set(new.operating_hours.unwrap_or_else(empty)),
                    active: Set(new.active.unwrap_or(true)),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                insert_audited(
                    tx,
                    &actor,
                    &trial_id,
                    am,
                    &[
                        "trial_id",
                        "name",
                        "description",
                        "inclusion_criteria",
                        "exclusion_criteria",
                        "visit_templates",
                        "operating_hours",
                        "active",
                    ],
                )
                .await
            })
        }),
    )
    .await;
    match res {
        Err(Error::Duplicate(_)) => {
            Err(Error::Conflict("a trial with this trial_id exists".into()))
        }
        other => other,
    }
}

fn trial_not_found(trial_id: &str) -> Error {
    Error::NotFound {
        entity: trial::Entity::NAME,
        id: trial_id.to_owned(),
    }
}

/// Looks a trial up by its string id.
pub async fn get_trial(conn: &impl ConnectionTrait, trial_id: &str) -> Result<trial::Model> {
    observe("get_trial", async {
        trial::Entity::find_by_id(trial_id.to_owned())
            .one(conn)
            .await?
            .ok_or_else(|| trial_not_found(trial_id))
    })
    .await
}

/// A trial's inclusion and exclusion criteria.
pub async fn get_trial_criteria(conn: &impl ConnectionTrait, trial_id: &str) -> Result<Criteria> {
    let t = get_trial(conn, trial_id).await?;
    Ok(Criteria {
        inclusion: t.inclusion_criteria,
        exclusion: t.exclusion_criteria,
    })
}

/// Every trial that is recruiting, by name.
pub async fn list_active_trials(conn: &impl ConnectionTrait) -> Result<Vec<trial::Model>> {
    observe("list_active_trials", async {
        Ok(trial::Entity::find()
            .filter(trial::Column::Active.eq(true))
            .order_by_asc(trial::Column::Name)
            .all(conn)
            .await?)
    })
    .await
}

/// What trial lists may filter and order by.
pub fn trial_spec() -> ListSpec<trial::Entity> {
    use trial::Column as C;
    ListSpec::new("trials", "trial_id", C::TrialId, FieldType::Text)
        .filter("active", C::Active, FieldType::Bool)
        .sort("name", C::Name, FieldType::Text)
        .sort("created_at", C::CreatedAt, FieldType::Timestamp)
        .default_order(&[("name", Dir::Asc)])
}

/// Lists trials.
pub async fn list_trials(
    conn: &impl ConnectionTrait,
    spec: &ListSpec<trial::Entity>,
    q: &ListQuery,
) -> Result<Page<trial::Model>> {
    observe("list_trials", async {
        Ok(spec.fetch(conn, q, trial::Entity::find()).await?)
    })
    .await
}

/// Updates a trial.
pub async fn update_trial(
    store: &Store,
    actor: &Actor,
    trial_id: &str,
    patch: TrialPatch,
) -> Result<trial::Model> {
    let mut c = Check::default();
    c.text("name", patch.name.as_deref(), 200);
    check_trial_json(
        &mut c,
        patch.visit_templates.as_ref(),
        patch.operating_hours.as_ref(),
        &[
            ("inclusion_criteria", patch.inclusion_criteria.as_ref()),
            ("exclusion_criteria", patch.exclusion_criteria.as_ref()),
        ],
    );
    c.done()?;
    let actor = actor.clone();
    let trial_id = trial_id.to_owned();
    observe(
        "update_trial",
        store.transaction(|tx| {
            Box::pin(async move {
                let cur = trial::Entity::find_by_id(trial_id.clone())
                    .lock_exclusive()
                    .one(tx)
                    .await?
                    .ok_or_else(|| trial_not_found(&trial_id))?;
                let mut am = cur.clone().into_active_model();
                let mut changed = Vec::new();
                change!(am, cur, changed;
                    name = patch.name.map(|n| n.trim().to_owned()),
                    description = patch.description,
                    inclusion_criteria = patch.inclusion_criteria,
                    exclusion_criteria = patch.exclusion_criteria,
                    visit_templates = patch.visit_templates,
                    operating_hours = patch.operating_hours,
                    active = patch.active,
                );
                if changed.is_empty() {
                    return Ok(cur);
                }
                am.updated_at = Set(time::now());
                custodian_core::limits::check_json_columns(&am)?;
                let row = am.update(tx).await?;
                audit::record(
                    tx,
                    &actor.change("update", trial::Entity::NAME, &trial_id, &changed),
                )
                .await?;
                Ok(row)
            })
        }),
    )
    .await
}

/// Diabetes Study A, the demo trial, with its criteria, visits and hours.
/// Returns the existing trial when it is already there.
pub async fn seed_diabetes_study_a(store: &Store, actor: &Actor) -> Result<trial::Model> {
    match get_trial(store.conn(), DIABETES_STUDY_A).await {
        Ok(t) => return Ok(t),
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let new = NewTrial {
        trial_id: Some(DIABETES_STUDY_A.into()),
        name: "Diabetes Study A".into(),
        description: Some(
            "A 24-week study of a once-weekly medication for adults with type 2 diabetes.".into(),
        ),
        inclusion_criteria: Some(serde_json::json!({
            "age": {"min": 18, "max": 75},
            "diagnosis": "type 2 diabetes",
            "hba1c_percent": {"min": 7.0, "max": 10.5},
            "on_metformin_months": {"min": 3}
        })),
        exclusion_criteria: Some(serde_json::json!({
            "type_1_diabetes": true,
            "pregnant_or_planning": true,
            "egfr_below": 30,
            "insulin_use": true
        })),
        visit_templates: Some(serde_json::json!([
            {"visit_type": "screening", "week": 0, "duration_minutes": 90, "fasting": true},
            {"visit_type": "baseline", "week": 2, "duration_minutes": 60},
            {"visit_type": "follow_up", "week": 12, "duration_minutes": 45},
            {"visit_type": "final", "week": 24, "duration_minutes": 60, "fasting": true}
        ])),
        operating_hours: Some(serde_json::json!({
            "timezone": "America/Chicago",
            "mon": ["08:00", "17:00"], "tue": ["08:00", "17:00"], "wed": ["08:00", "17:00"],
            "thu": ["08:00", "17:00"], "fri": ["08:00", "15:00"]
        })),
        active: Some(true),
    };
    match create_trial(store, actor, new).await {
        // Seeded concurrently by another process: use theirs.
        Err(Error::Conflict(_)) => get_trial(store.conn(), DIABETES_STUDY_A).await,
        other => other,
    }
}

/// The demo trial's id.
pub const DIABETES_STUDY_A: &str = "diabetes-study-a";
