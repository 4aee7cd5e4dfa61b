//! `/v1/analytics/<table>` for the tables with the generic repository
//! ([`crate::repo`]): create, list, get, PATCH and (hard) delete, declared
//! by [`custodian_http::resource_handlers!`] once per table.
//!
//! They sit behind the same `analytics` permission as the module's other
//! routes: analysts, evaluators, auditors and services read; services
//! write. None is patient-keyed, so no split guard applies.

use std::{marker::PhantomData, sync::LazyLock};

use axum::{extract::FromRequestParts, http::HeaderMap, http::request::Parts};
use custodian_core::query::{ListQuery, ListSpec, Page};
use custodian_http::{ApiError, Caller, Db, list::parse, resource::NoParams, resource_handlers};
use custodian_ledger::audit::Actor;
use sea_orm::{ActiveModelBehavior, IntoActiveModel, TryIntoModel};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    model::{
        agent_activity, business_metric, causal_path, conversation, data_source_tracking,
        etl_pipeline_metric, hcp_intent_survey, reference_universe, trigger,
    },
    repo::{self, Resource},
};

/// Names the table a handler works on.
type Of<R> = PhantomData<R>;

/// One request to a table: the database and the caller.
pub(super) struct Rows {
    db: Db,
    actor: Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for Rows {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let db = Db::from_request_parts(parts, state).await?;
        let Ok(Caller(actor)) = Caller::from_request_parts(parts, state).await;
        Ok(Self { db, actor })
    }
}

impl Rows {
    async fn create<R>(&self, _: Of<R>, new: R::New) -> Result<R::Model, ApiError>
    where
        R: Resource,
        R::Model: IntoActiveModel<R::ActiveModel>,
        R::ActiveModel: ActiveModelBehavior + Send + 'static,
    {
        Ok(repo::create::<R>(&self.db.0, &self.actor, new).await?)
    }

    async fn list_query<R: Resource>(
        &self,
        spec: &ListSpec<R>,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<ListQuery, ApiError> {
        Ok(parse(spec, query, headers)?)
    }

    async fn list<R: Resource>(
        &self,
        _: Of<R>,
        spec: &ListSpec<R>,
        q: &ListQuery,
    ) -> Result<Page<R::Model>, ApiError>
    where
        R::Model: Sync,
    {
        Ok(repo::get_many::<R>(&self.db.0, &self.actor, spec, q).await?)
    }

    async fn get<R: Resource>(
        &self,
        _: Of<R>,
        id: Uuid,
        _: NoParams,
    ) -> Result<R::Model, ApiError> {
        Ok(repo::get_by_id::<R>(&self.db.0, &self.actor, id).await?)
    }

    async fn update<R>(&self, _: Of<R>, id: Uuid, patch: R::Patch) -> Result<R::Model, ApiError>
    where
        R: Resource,
        R::Model: IntoActiveModel<R::ActiveModel>,
        R::ActiveModel: ActiveModelBehavior + Send + TryIntoModel<R::Model> + 'static,
    {
        Ok(repo::update::<R>(&self.db.0, &self.actor, id, patch).await?)
    }

    async fn delete<R: Resource>(&self, _: Of<R>, id: Uuid) -> Result<(), ApiError> {
        Ok(repo::delete::<R>(&self.db.0, &self.actor, id).await?)
    }
}

/// For each table: its list spec, its five handlers, and their routes.
macro_rules! tables {
    ($(
        $entity:ident, $path:literal, $item:literal, $new:ty, $patch:ty, $read_doc:literal,
        [$spec:ident, $create:ident, $list:ident, $get:ident, $update:ident, $delete:ident];
    )+) => {
        $(
            static $spec: LazyLock<ListSpec<$entity::Entity>> = LazyLock::new(<$entity::Entity as Resource>::spec);

            resource_handlers!(
                ctx = Rows, tag = "analytics", path = $path, item = $item,
                model = $entity::Model, spec = $spec;
                create $create($new) => Of::<$entity::Entity>::default();
                list $list => Of::<$entity::Entity>::default(), doc = $read_doc;
                get $get(NoParams) => Of::<$entity::Entity>::default(), doc = $read_doc;
                update $update($patch) => Of::<$entity::Entity>::default();
                delete $delete => Of::<$entity::Entity>::default(),
                    doc = "A hard delete: the row is removed; the audit entry of its deletion stays.";
            );
        )+

        /// The tables' routes, added to the module's router.
        pub(super) fn routes<S: Clone + Send + Sync + 'static>(mut r: OpenApiRouter<S>) -> OpenApiRouter<S> {
            $(
                r = r.routes(routes!($create, $list)).routes(routes!($get, $update, $delete));
            )+
            r
        }
    };
}

tables! {
    trigger, "/v1/analytics/triggers", "trigger", repo::triggers::NewTrigger, repo::triggers::TriggerPatch, "Not personal data: reads are not recorded.",
        [TRIGGERS, create_trigger, list_triggers, get_trigger, update_trigger, delete_trigger];
    business_metric, "/v1/analytics/business_metrics", "business metric", repo::business_metrics::NewBusinessMetric, repo::business_metrics::BusinessMetricPatch, "Not personal data: reads are not recorded.",
        [BUSINESS_METRICS, create_business_metric, list_business_metrics, get_business_metric, update_business_metric, delete_business_metric];
    causal_path, "/v1/analytics/causal_paths", "causal path", repo::causal_paths::NewCausalPath, repo::causal_paths::CausalPathPatch, "Not personal data: reads are not recorded.",
        [CAUSAL_PATHS, create_causal_path, list_causal_paths, get_causal_path, update_causal_path, delete_causal_path];
    agent_activity, "/v1/analytics/agent_activities", "agent activity", repo::agent_activities::NewAgentActivity, repo::agent_activities::AgentActivityPatch, "Personal data (what a user asked): every read is recorded in the audit chain.",
        [AGENT_ACTIVITIES, create_agent_activity, list_agent_activities, get_agent_activity, update_agent_activity, delete_agent_activity];
    conversation, "/v1/analytics/conversations", "conversation message", repo::conversations::NewConversation, repo::conversations::ConversationPatch, "Personal data (a user's chat): every read is recorded in the audit chain.",
        [CONVERSATIONS, create_conversation, list_conversations, get_conversation, update_conversation, delete_conversation];
    data_source_tracking, "/v1/analytics/data_source_tracking", "data source day", repo::data_source_tracking::NewDataSourceTracking, repo::data_source_tracking::DataSourceTrackingPatch, "Not personal data: reads are not recorded.",
        [SOURCE_TRACKING, create_data_source_tracking, list_data_source_tracking, get_data_source_tracking, update_data_source_tracking, delete_data_source_tracking];
    etl_pipeline_metric, "/v1/analytics/etl_pipeline_metrics", "pipeline run", repo::etl_pipeline_metrics::NewEtlPipelineMetric, repo::etl_pipeline_metrics::EtlPipelineMetricPatch, "Not personal data: reads are not recorded.",
        [PIPELINE_METRICS, create_etl_pipeline_metric, list_etl_pipeline_metrics, get_etl_pipeline_metric, update_etl_pipeline_metric, delete_etl_pipeline_metric];
    hcp_intent_survey, "/v1/analytics/hcp_intent_surveys", "HCP intent survey", repo::hcp_intent_surveys::NewHcpIntentSurvey, repo::hcp_intent_surveys::HcpIntentSurveyPatch, "Not personal data: reads are not recorded.",
        [INTENT_SURVEYS, create_hcp_intent_survey, list_hcp_intent_surveys, get_hcp_intent_survey, update_hcp_intent_survey, delete_hcp_intent_survey];
    reference_universe, "/v1/analytics/reference_universe", "coverage target", repo::reference_universe::NewReferenceUniverse, repo::reference_universe::ReferenceUniversePatch, "Not personal data: reads are not recorded.",
        [REFERENCE_UNIVERSE, create_reference_universe, list_reference_universe, get_reference_universe, update_reference_universe, delete_reference_universe];
}
