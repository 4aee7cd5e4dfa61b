//! The trials module as the rest of the system sees it: name, tables,
//! permission rows, routes, pseudonym columns and the demo seed.

use std::sync::Arc;

use custodian_core::{Store, migrate::MigrationSet};
use custodian_ledger::audit::Actor;
use custodian_module::{Command, Env, Error, Module, Outcome, Table, Verb, clap};
use custodian_privacy::{
    access::{Area, Role},
    rotate::PseudonymColumn,
};
use futures::future::BoxFuture;
use utoipa_axum::router::OpenApiRouter;

use crate::{
    Context,
    media::{Media, MediaSettings, StoreKind},
};

/// The module, for the one list of modules.
pub const MODULE: &dyn Module = &Trials;

/// `/v1/trials/...`: coordinators and services work outreach; auditors read.
pub const TRIALS: Area = Area {
    name: "trials",
    readers: &[Role::Coordinator, Role::Auditor, Role::Service],
    writers: &[Role::Coordinator, Role::Service],
};

/// `/v1/trials/agent_reasoning`: internal prompts, kept from everyone but
/// the agents (service keys) and admins.
pub const AGENT_REASONING: Area = Area {
    name: "agent_reasoning",
    readers: &[Role::Service],
    writers: &[Role::Service],
};

struct Trials;

/// The module's tables and where each would live on a Citus cluster.
const TABLES: &[Table] = &[
    Table::distributed("trials_participants", "id"),
    Table::reference("trials_trials"),
    Table::distributed("trials_participant_trials", "participant_id"),
    Table::distributed("trials_appointments", "participant_id"),
    Table::distributed("trials_conversations", "participant_id"),
    Table::distributed("trials_handoff_queue", "participant_id"),
    Table::distributed("trials_rides", "participant_id"),
    // A trace may name no participant: sharded by its own id, apart.
    Table::distributed("trials_agent_reasoning", "id"),
    // The unique `mary_id`s, apart from the participants they name.
    Table::distributed("trials_mary_ids", "mary_id"),
];

impl Module for Trials {
    fn name(&self) -> &'static str {
        "trials"
    }

    fn description(&self) -> &'static str {
        "Module trials: participants, enrollments, appointments, conversations, handoffs, rides, trials, agent reasoning"
    }

    fn migrations(&self) -> MigrationSet {
        crate::migrations()
    }

    fn tables(&self) -> &'static [Table] {
        TABLES
    }

    fn areas(&self) -> &'static [Area] {
        &[TRIALS, AGENT_REASONING]
    }

    fn event_subjects(&self) -> &'static [&'static str] {
        &["participant", "appointment"]
    }

    fn event_check(&self) -> Option<custodian_ledger::events::EventCheck> {
        Some(crate::repo::check_event)
    }

    fn exports(&self) -> Vec<custodian_module::export::ExportResource> {
        crate::export::exports()
    }

    fn pseudonym_columns(&self) -> Vec<PseudonymColumn> {
        crate::pseudonym_columns()
    }

    fn routes(&self, env: &Env) -> OpenApiRouter {
        let routes = crate::http::routes();
        match Context::from_env(env) {
            Some(ctx) => routes.layer(axum::Extension(ctx)),
            None => routes,
        }
    }

    fn public_routes(&self, env: &Env) -> axum::Router {
        let routes = crate::http::media_routes();
        match Context::from_env(env) {
            Some(ctx) => routes.layer(axum::Extension(ctx)),
            None => routes,
        }
    }

    fn check<'a>(&'a self, _: &'a Store, env: &'a Env) -> BoxFuture<'a, Result<(), Error>> {
        // Without a pepper the module still serves what needs none; a
        // media store configured wrong is refused here, naming why.
        Box::pin(async move {
            if env.pseudonymizer().is_err() {
                return Ok(());
            }
            media_from_env(env).map(|_| ())
        })
    }

    fn erasure(&self) -> Option<custodian_module::erase::Erasure> {
        Some(crate::erase::ERASURE)
    }

    fn commands(&self) -> Vec<Command> {
        vec![Command {
            verb: Verb::Seed,
            args: |c| {
                c.about(
                    "Trials: Diabetes Study A, three participants at different stages, two \
                     appointments (one confirmed), a ride and a recorded call. Needs the pepper \
                     (CUSTODIAN_PEPPER) that `serve` will use, since it makes mary_ids. Writes \
                     the call's audio file into the media directory",
                )
            },
            run: seed,
        }]
    }
}

/// The media settings `env`'s configuration gives.
pub fn media_settings(env: &Env) -> MediaSettings {
    let server = &env.config().server;
    MediaSettings {
        kind: if server.media_store == "s3" {
            StoreKind::S3
        } else {
            StoreKind::Local
        },
        dir: server.media_dir.clone(),
        bucket: server.media_bucket.clone(),
        endpoint: server.media_endpoint.clone(),
        region: server.media_region.clone(),
        url_ttl: server.media_url_ttl,
    }
}

/// The media store `env` configures, with S3 credentials from the process
/// environment; it needs the pepper, which the URL key is derived from.
pub(crate) fn media_from_env(env: &Env) -> Result<Media, Error> {
    let pz = env.pseudonymizer().map_err(|e| {
        Error::Unavailable(format!(
            "trials media URLs are signed with a key derived from the pepper: {e}"
        ))
    })?;
    Media::from_settings(&media_settings(env), Context::url_key(pz), |k| {
        std::env::var(k).ok()
    })
    .map_err(|e| Error::Unavailable(e.to_string()))
}

impl Context {
    /// The context `env` allows: `None` without a pepper or with a media
    /// store that cannot be built (logged; `serve` refuses to start on it
    /// first, through the module's check), so routes that need it answer
    /// 503 and the rest still work.
    pub fn from_env(env: &Env) -> Option<Self> {
        let pz = env.pseudonymizer().ok()?;
        match media_from_env(env) {
            Ok(media) => Some(Self::new(Arc::clone(pz), media)),
            Err(e) => {
                tracing::warn!("trials: {e}");
                None
            }
        }
    }
}

/// Loads the demo data, writes the demo call's audio file if it is
/// missing, and says what it did.
fn seed<'a>(
    env: &'a Env,
    store: &'a Store,
    _: &'a clap::ArgMatches,
) -> BoxFuture<'a, Result<Outcome, Error>> {
    Box::pin(async move {
        let pz = env.pseudonymizer().map_err(|e| {
            Error::Unavailable(format!(
                "trials participants get mary_ids, which need the pepper: {e}"
            ))
        })?;
        let r = crate::seed::seed(store, &Actor::system(), pz).await?;
        let media = media_from_env(env)?;
        let audio = crate::seed::DEMO_AUDIO_PATH;
        let failed =
            |e: crate::media::MediaError| Error::Unavailable(format!("writing {audio}: {e}"));
        if media.head(audio).await.map_err(failed)?.is_none() {
            media
                .put(audio, crate::seed::silent_wav())
                .await
                .map_err(failed)?;
        }
        if r.created {
            println!(
                "trials: seeded Diabetes Study A, {} participants, {} appointments, {} ride(s); \
                 demo audio in {}",
                r.participants,
                r.appointments,
                r.rides,
                media.name()
            );
        } else {
            println!("trials: demo data already present; nothing written");
        }
        Ok(Outcome::Done)
    })
}
