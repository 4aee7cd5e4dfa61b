"""Analytics: split-aware training data, pages, and the DataFrame helpers."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone

import pytest

from custodian_client import Client

CUTOFF = datetime(2100, 1, 1, tzinfo=timezone.utc)


def test_training_data_follows_cursors(client: Client) -> None:
    training = client.analytics.get_training_data(cutoff=CUTOFF, limit=50)
    pages = list(training.pages())
    assert len(pages) > 1
    assert all(p.next_cursor for p in pages[:-1]) and pages[-1].next_cursor is None
    rows = [row for page in pages for row in page.items]
    assert len({r.id for r in rows}) == len(rows)
    assert {r.split_assignment for r in rows} == {"train"}
    assert len(training.to_list()) == len(rows)


def test_to_pandas(client: Client) -> None:
    frame = client.analytics.list_patient_journeys(brand="Kisqali", limit=40).to_pandas()
    assert len(frame) > 40  # more than one page
    assert set(frame["brand"]) == {"Kisqali"}
    assert list(frame.columns)[:3] == ["brand", "created_at", "data_lag_hours"]
    assert str(frame["created_at"].dtype).startswith("datetime64") and str(frame["created_at"].dt.tz) == "UTC"
    empty = client.analytics.list_patient_journeys(brand="no-such-brand").to_pandas()
    assert len(empty) == 0 and "patient_id" in empty.columns


@pytest.mark.skipif(importlib.util.find_spec("polars") is None, reason="polars is an optional extra")
def test_to_polars(client: Client) -> None:
    frame = client.analytics.list_patient_journeys(brand="Kisqali").to_polars()
    assert frame.height > 0 and set(frame["brand"].to_list()) == {"Kisqali"}


def test_agents_and_kpis(client: Client) -> None:
    assert client.analytics.route_intent_to_agent("WHAT_IF").agent_name == "causal_impact"
    off = client.analytics.update_agent("causal_impact", is_active=False)
    try:
        assert off.is_active is False
        assert client.analytics.route_intent_to_agent("WHAT_IF").agent_name == "experiment_designer"
    finally:
        client.analytics.update_agent("causal_impact", is_active=True)
    assert client.analytics.route_intent_to_agent("WHAT_IF").agent_name == "causal_impact"
    assert any(a.tier == 2 for a in client.analytics.list_agents(tier=2))
    assert client.analytics.kpi_active_users()[-1].period
