# Generated from ../_async/analytics.py by clients/python/generate.py. Do not edit.
"""Causal-analytics store (``/v1/analytics``), with the source application's names.

Reads of patient rows only return the splits the key's role may see; the
training and validation routes are the seed's ``get_training_data`` and
``get_validation_data``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar, cast
from uuid import UUID

from pydantic import BaseModel

from ..bodies import body, seg
from ..models.analytics import (
    ActiveUsers,
    Agent,
    AgentPatch,
    CrossSourceMatch,
    MlAnnotation,
    MlAnnotationPatch,
    MlPrediction,
    MlPredictionPatch,
    NewMlAnnotation,
    NewMlPrediction,
    NewPatientJourney,
    PatientJourney,
    PatientJourneyPatch,
)
from ..query import render
from .base import Resource
from .pager import Pager

Order = str | Iterable[str] | None
Body = Mapping[str, Any] | None
Table = Literal["patient_journeys", "ml_predictions", "ml_annotations"]
T = TypeVar("T", bound=BaseModel)

ROW_MODELS: dict[str, type[BaseModel]] = {
    "patient_journeys": PatientJourney,
    "ml_predictions": MlPrediction,
    "ml_annotations": MlAnnotation,
}


class Analytics(Resource):
    """Patient journeys, predictions, labels, split-aware reads, agents and KPIs."""

    def _rows(self, table: str) -> type[BaseModel]:
        if table not in ROW_MODELS:
            raise ValueError(f"table must be one of {sorted(ROW_MODELS)}, not {table!r}")
        return ROW_MODELS[table]

    def get_training_data(
        self, cutoff: datetime, *, table: Table = "patient_journeys", limit: int | None = None
    ) -> Pager[Any]:
        """Training rows before ``cutoff``, less the configured gap before it (no leakage).

        ``table`` picks the seed's repository: journeys (default),
        predictions or labels. Rows are that table's model.
        """
        return self._list(
            f"/v1/analytics/{table}/training", self._rows(table), {}, limit=limit, plain={"cutoff": cutoff}
        )

    def get_validation_data(self, *, table: Table = "patient_journeys", limit: int | None = None) -> Pager[Any]:
        """Validation-split rows of ``table``."""
        return self._list(f"/v1/analytics/{table}/validation", self._rows(table), {}, limit=limit)

    # Patient journeys

    def create_patient_journey(
        self, journey: NewPatientJourney | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> PatientJourney:
        """Store a journey; its split is assigned from ``patient_id``."""
        return self._t.call(
            "POST",
            "/v1/analytics/patient_journeys",
            PatientJourney,
            json=body(NewPatientJourney, journey, fields),
            idempotency_key=idempotency_key,
        )

    def get_patient_journey(self, journey_id: UUID | str, *, split: str | None = None) -> PatientJourney:
        params = [("split", split)] if split else None
        return self._t.call(
            "GET", f"/v1/analytics/patient_journeys/{seg(journey_id)}", PatientJourney, params=params
        )

    def list_patient_journeys(
        self,
        *,
        split: str | None = None,
        order: Order = None,
        limit: int | None = None,
        count: bool = False,
        **filters: Any,
    ) -> Pager[PatientJourney]:
        """Journeys matching the filters; ``split`` narrows to one split (if the role may read it)."""
        return self._list(
            "/v1/analytics/patient_journeys",
            PatientJourney,
            filters,
            order=order,
            limit=limit,
            count=count,
            plain={"split": split},
        )

    def get_by_brand(self, brand: str, *, limit: int | None = None) -> Pager[PatientJourney]:
        return self._list(f"/v1/analytics/patient_journeys/by_brand/{seg(brand)}", PatientJourney, {}, limit=limit)

    def get_cross_source_matches(self, brand: str, *, limit: int | None = None) -> Pager[PatientJourney]:
        """A brand's journeys matched in more than one data source."""
        return self._list(
            f"/v1/analytics/patient_journeys/cross_source_matches/{seg(brand)}", PatientJourney, {}, limit=limit
        )

    def update_patient_journey(
        self, journey_id: UUID | str, update: PatientJourneyPatch | Body = None, /, **fields: Any
    ) -> PatientJourney:
        return self._t.call(
            "PATCH",
            f"/v1/analytics/patient_journeys/{seg(journey_id)}",
            PatientJourney,
            json=body(PatientJourneyPatch, update, fields),
        )

    def delete_patient_journey(self, journey_id: UUID | str) -> None:
        """A hard delete, as in the seed (the audit entries stay)."""
        self._t.call("DELETE", f"/v1/analytics/patient_journeys/{seg(journey_id)}", None)

    # Predictions and labels

    def create_ml_prediction(
        self, prediction: NewMlPrediction | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> MlPrediction:
        return self._t.call(
            "POST",
            "/v1/analytics/ml_predictions",
            MlPrediction,
            json=body(NewMlPrediction, prediction, fields),
            idempotency_key=idempotency_key,
        )

    def list_ml_predictions(
        self, *, split: str | None = None, order: Order = None, limit: int | None = None, **filters: Any
    ) -> Pager[MlPrediction]:
        return self._list(
            "/v1/analytics/ml_predictions", MlPrediction, filters, order=order, limit=limit, plain={"split": split}
        )

    def update_ml_prediction(
        self, prediction_id: UUID | str, update: MlPredictionPatch | Body = None, /, **fields: Any
    ) -> MlPrediction:
        return self._t.call(
            "PATCH",
            f"/v1/analytics/ml_predictions/{seg(prediction_id)}",
            MlPrediction,
            json=body(MlPredictionPatch, update, fields),
        )

    def create_ml_annotation(
        self, annotation: NewMlAnnotation | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> MlAnnotation:
        return self._t.call(
            "POST",
            "/v1/analytics/ml_annotations",
            MlAnnotation,
            json=body(NewMlAnnotation, annotation, fields),
            idempotency_key=idempotency_key,
        )

    def list_ml_annotations(
        self, *, split: str | None = None, order: Order = None, limit: int | None = None, **filters: Any
    ) -> Pager[MlAnnotation]:
        return self._list(
            "/v1/analytics/ml_annotations", MlAnnotation, filters, order=order, limit=limit, plain={"split": split}
        )

    def update_ml_annotation(
        self, annotation_id: UUID | str, update: MlAnnotationPatch | Body = None, /, **fields: Any
    ) -> MlAnnotation:
        return self._t.call(
            "PATCH",
            f"/v1/analytics/ml_annotations/{seg(annotation_id)}",
            MlAnnotation,
            json=body(MlAnnotationPatch, update, fields),
        )

    # Agents and KPIs

    def list_agents(self, *, tier: int | None = None, intent: str | None = None) -> list[Agent]:
        params = [(k, render(v)) for k, v in (("tier", tier), ("intent", intent)) if v is not None]
        return cast(list[Agent], self._t.call("GET", "/v1/analytics/agents", list[Agent], params=params))

    get_by_tier = list_agents

    def route_intent_to_agent(self, intent: str) -> Agent:
        """The agent that handles ``intent`` (lowest tier wins; else the orchestrator)."""
        return self._t.call("GET", "/v1/analytics/agents/route", Agent, params=[("intent", intent)])

    def update_agent(self, agent_name: str, update: AgentPatch | Body = None, /, **fields: Any) -> Agent:
        """Change an agent (admin keys only): ``tier``, ``intents``, ``description``,
        ``config`` or ``is_active`` (an inactive agent is not routed to). Audited."""
        return self._t.call(
            "PATCH",
            f"/v1/analytics/agents/{seg(agent_name)}",
            Agent,
            json=body(AgentPatch, update, fields),
        )

    def kpi_active_users(self) -> list[ActiveUsers]:
        return cast(
            list[ActiveUsers], self._t.call("GET", "/v1/analytics/kpis/active_users", list[ActiveUsers])
        )

    def kpi_cross_source_match(self, *, split: str | None = None) -> list[CrossSourceMatch]:
        params = [("split", split)] if split else None
        return cast(
            list[CrossSourceMatch],
            self._t.call("GET", "/v1/analytics/kpis/cross_source_match", list[CrossSourceMatch], params=params),
        )
