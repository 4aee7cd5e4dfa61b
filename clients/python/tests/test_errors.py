"""Each problem type the server answers arrives as its own exception class."""

from __future__ import annotations

import uuid

import pydantic
import pytest

from custodian_client import (
    BadQuery,
    Client,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationError,
)

from .conftest import Server


def test_not_found(client: Client) -> None:
    with pytest.raises(NotFound) as info:
        client.claims.get_case(uuid.uuid4())
    assert info.value.status == 404 and info.value.type == "/problems/not-found" and info.value.request_id


def test_conflict(client: Client, unique: str) -> None:
    case = client.claims.create_case(external_id=f"CLAIM-ERR-{unique}", case_type="life", title="Conflict")
    with pytest.raises(Conflict) as info:
        client.claims.update_case(case.id, status="archived")
    assert "cannot go from pending to archived" in str(info.value)


def test_validation_error_names_the_field(client: Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.request("POST", "/v1/events", json={"event_type": "sms_sent", "subject_id": "42"})
    assert list(info.value.invalid) == ["subject_id"]
    assert info.value.invalid_params[0].reason.startswith("UUID parsing failed")


def test_validation_error_from_the_server_on_a_typed_call(client: Client, unique: str) -> None:
    # Well-formed for the model, refused by the server: a key reused for another event.
    client.events.log_event("sms_sent", idempotency_key=f"k-{unique}")
    with pytest.raises(ValidationError) as info:
        client.events.log_event("call_placed", idempotency_key=f"k-{unique}")
    assert "idempotency_key" in info.value.invalid


def test_bad_query_names_the_parameter(client: Client) -> None:
    with pytest.raises(BadQuery) as info:
        client.events.list_events(colour="red").first()
    assert list(info.value.invalid) == ["colour"]


def test_forbidden_for_a_role_without_the_permission(server: Server) -> None:
    with Client(server.base_url, server.create_key("analyst")) as analyst:
        assert analyst.claims.list_cases(limit=1).first() is not None  # analysts read claims
        with pytest.raises(Forbidden):
            analyst.trials.list_participants().first()
        with pytest.raises(Forbidden):
            analyst.analytics.list_patient_journeys(split="test").first()


def test_unauthenticated(server: Server) -> None:
    with Client(server.base_url, "cus_not_a_key") as stranger, pytest.raises(Unauthenticated):
        stranger.events.list_events().first()


def test_body_checked_before_sending(client: Client) -> None:
    with pytest.raises(pydantic.ValidationError):
        client.claims.create_case(external_id="X", case_type="boat", title="No such type")
