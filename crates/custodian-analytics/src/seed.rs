//! Demo data: 400 patients' journeys across four brands, a prediction and
//! some labels for them, and 60 days of user sessions, so every route and
//! both KPIs have something to show. Loaded through the import (so splits
//! are assigned and every batch is audited); a second run writes nothing.

use std::fmt::Write as _;

use chrono::Duration;
use custodian_core::{Result, Store, splitmix::SplitMix64, time};
use custodian_ledger::audit::Actor;
use custodian_privacy::splits::SplitConfig;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    import::{self, Format, Load, Table},
    model::patient_journey,
};

/// The first demo patient: present (or erased) means seeded.
const MARKER: &str = "demo-p-0001";

/// What a seed run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// False when the demo data was already there.
    pub created: bool,
    /// Rows loaded per table, in load order.
    pub loaded: Vec<(&'static str, u64)>,
}

/// Loads the demo data unless it is already there.
pub async fn seed(store: &Store, actor: &Actor, config: &SplitConfig) -> Result<Seeded> {
    let present = patient_journey::Entity::find()
        .filter(patient_journey::Column::PatientId.eq(MARKER))
        .one(store.conn())
        .await?
        .is_some();
    // An erased first patient no longer names their rows, but the seed ran.
    let erased =
        custodian_ledger::subject_keys::is_erased(store.conn(), &crate::erase::subject(MARKER))
            .await?;
    if present || erased {
        return Ok(Seeded {
            created: false,
            loaded: Vec::new(),
        });
    }
    let mut rng = SplitMix64::new(2002);
    let now = time::now();
    let brands = ["Kisqali", "Fabhalta", "Leqvio", "Cosentyx"];
    let stages = ["diagnosis", "treatment", "maintenance", "discontinued"];
    let sources = ["claims", "emr", "lab", "specialty_pharmacy"];
    let mut journeys = String::new();
    let mut predictions = String::new();
    let mut labels = String::new();
    for i in 1..=400 {
        let patient = format!("demo-p-{i:04}");
        let matched: Vec<&str> = sources
            .iter()
            .copied()
            .filter(|_| rng.below(3) == 0)
            .collect();
        let source_time = now - Duration::hours(24 + rng.below(24 * 90) as i64);
        let line = serde_json::json!({
            "patient_id": patient,
            "brand": brands[i % brands.len()],
            "journey_stage": rng.pick(&stages),
            "data_source": matched.first().copied().unwrap_or("claims"),
            "data_sources_matched": matched,
            "source_timestamp": source_time,
            "ingestion_timestamp": source_time + Duration::hours(rng.below(72) as i64),
        });
        let _ = writeln!(journeys, "{line}");
        let score = rng.below(1000) as f64 / 1000.0;
        let line = serde_json::json!({
            "patient_id": patient,
            "model_id": "demo-propensity-v1",
            "prediction_score": score,
            "model_pr_auc": 0.71,
            "rank_metrics": {"recall_at_5": 0.42, "recall_at_10": 0.61},
            "brier_score": 0.18,
        });
        let _ = writeln!(predictions, "{line}");
        if i % 4 == 0 {
            let line = serde_json::json!({
                "patient_id": patient,
                "annotator_id": format!("annotator-{}", 1 + i % 3),
                "label": if score > 0.5 { "responder" } else { "non_responder" },
                "agreement_score": 0.6 + (rng.below(40) as f64) / 100.0,
            });
            let _ = writeln!(labels, "{line}");
        }
    }
    let mut sessions = String::new();
    for day in 0..60i64 {
        for u in 0..30 {
            // Most users come back every few days; a few come daily.
            if (day + u) % (1 + u % 5) != 0 {
                continue;
            }
            let start = now - Duration::days(day) - Duration::minutes(rng.below(600) as i64);
            let line = serde_json::json!({
                "user_id": format!("demo-user-{u:02}"),
                "session_start": start,
                "session_end": start + Duration::minutes(5 + rng.below(40) as i64),
                "pages_viewed": 1 + rng.below(12),
            });
            let _ = writeln!(sessions, "{line}");
        }
    }
    let mut loaded = Vec::new();
    for (table, text) in [
        (Table::PatientJourneys, journeys),
        (Table::MlPredictions, predictions),
        (Table::MlAnnotations, labels),
        (Table::UserSessions, sessions),
    ] {
        let load = Load {
            table,
            format: Format::Ndjson,
            source: "demo-seed",
            batch: import::DEFAULT_BATCH,
        };
        let report = import::import(
            store,
            actor,
            config,
            &load,
            text.as_bytes(),
            |bad| tracing::error!(line = bad.line, reason = %bad.reason, "demo row refused"),
            |_| {},
        )
        .await?;
        loaded.push((table.name(), report.loaded));
    }
    Ok(Seeded {
        created: true,
        loaded,
    })
}
