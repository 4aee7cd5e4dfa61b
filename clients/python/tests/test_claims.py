"""Claims: the seed-004 triage flow through the client."""

from __future__ import annotations

from custodian_client import Client, Conflict


def test_list_urgent_pending_auto_claims_and_assign_one(client: Client) -> None:
    urgent = client.claims.list_cases(
        status="pending", case_type="auto", urgency_level=["high", "critical"], order="created_at.desc", limit=20
    )
    cases = urgent.to_list()
    assert cases, "the demo has urgent pending auto claims"
    assert all(c.status == "pending" and c.case_type == "auto" for c in cases)
    assert {c.urgency_level for c in cases} <= {"high", "critical"}
    assert [c.created_at for c in cases] == sorted((c.created_at for c in cases), reverse=True)

    team = client.claims.list_teams(name="Auto Claims").first()
    assert team is not None
    case = client.claims.update_case(cases[0].id, assigned_team_id=team.id, status="in_progress")
    assert case.status == "in_progress"
    assert case.assigned_team_id == team.id
    assert case.assigned_at is not None and case.sla_due_at is not None

    # No longer pending, and its history (from the audit chain) shows the update.
    assert cases[0].id not in {c.id for c in client.claims.list_cases(status="pending", case_type="auto")}
    actions = [e.action for e in client.claims.case_history(case.id)]
    assert actions[0] == "create" and "update" in actions


def test_create_case_and_workflow_conflict(client: Client, unique: str) -> None:
    case = client.claims.create_case(external_id=f"CLAIM-PY-{unique}", case_type="health", title="Broken wrist")
    assert case.status == "pending" and case.urgency_level == "medium"
    assert client.claims.get_case(case.id).external_id == f"CLAIM-PY-{unique}"
    try:
        client.claims.update_case(case.id, status="archived")
    except Conflict as e:
        assert "pending to archived" in (e.detail or "")
    else:  # pragma: no cover
        raise AssertionError("a pending case cannot be archived")


def test_metadata_keys_and_embedded_relations(client: Client) -> None:
    phone = client.claims.list_cases(metadata={"channel": "phone"}, limit=5).to_list()
    assert phone and all(c.metadata == {"channel": "phone"} for c in phone)
    web = client.claims.list_cases(metadata={"channel__in": ["web", "agent"]}, limit=5).to_list()
    assert web and all(c.metadata["channel"] in {"web", "agent"} for c in web)

    assigned = client.claims.list_cases(assigned_team_id__not_is=None, embed=["team", "documents"], limit=3)
    for case in assigned.to_list():
        assert case.team is not None and case.team.id == case.assigned_team_id
        assert case.documents is not None and case.assignee is None
    one = client.claims.get_case(phone[0].id, embed="assignee")
    assert one.team is None and (one.assignee is None) == (one.assigned_user_id is None)
