"""Lists follow next_cursor across pages, with the filter grammar as keywords."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from custodian_client import Client


def test_cases_over_several_pages(client: Client) -> None:
    pager = client.claims.list_cases(case_type="auto", order="created_at.asc", limit=7, count=True)
    first = pager.fetch_page()
    assert first.total is not None and first.total > 14
    assert len(first.items) == 7 and first.next_cursor
    second = pager.fetch_page(first.next_cursor)
    assert not {c.id for c in first.items} & {c.id for c in second.items}

    rows = list(pager)
    assert len(rows) == first.total
    assert len({c.id for c in rows}) == len(rows)
    assert all(c.case_type == "auto" for c in rows)
    assert pager.to_list(max_items=10) == rows[:10]


def test_operators_as_keyword_suffixes(client: Client) -> None:
    now = datetime.now(timezone.utc)
    recent = client.claims.list_cases(created_at__gte=now - timedelta(days=3650), created_at__lt=now + timedelta(days=1), limit=1000)
    everything = client.claims.list_cases(limit=1000)
    assert len(recent.to_list()) == len(everything.to_list())
    not_pending = client.claims.list_cases(status__not_eq="pending", limit=1000).to_list()
    assert not_pending and all(c.status != "pending" for c in not_pending)
    like = client.claims.list_cases(external_id__like="CLAIM-000*", limit=1000).to_list()
    assert like and all(c.external_id.startswith("CLAIM-000") for c in like)
    unassigned = client.claims.list_cases(assigned_team_id=None, limit=1000).to_list()
    assert unassigned and all(c.assigned_team_id is None for c in unassigned)
