"""A retried POST writes once: the same Idempotency-Key on every attempt.

The transport wrappers below only break the first attempt (as a network
would); every other attempt, and the first one where it is delivered, goes
to the real server, and each test counts the rows the server holds.
"""

from __future__ import annotations

import httpx
import pytest

from custodian_client import Client, RetryPolicy, TransportError
from custodian_client.errors import Conflict

from .conftest import Server

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


class Flaky(httpx.HTTPTransport):
    """Breaks the first request of ``method`` in the way ``mode`` says; forwards the rest.

    ``lost_answer``: the server gets the request and answers, the answer is lost.
    ``refused``: the connection fails before anything is sent.
    ``unavailable`` / ``in_flight``: the server's own problem answer for those cases.
    """

    def __init__(self, mode: str, method: str = "POST") -> None:
        super().__init__()
        self.mode = mode
        self.method = method
        self.sent: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        first = request.method == self.method and not self.sent
        if request.method == self.method:
            self.sent.append(request)
        if first and self.mode == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        if first and self.mode in ("unavailable", "in_flight", "too_many"):
            status, kind, detail = {
                "unavailable": (503, "unavailable", "the database is not answering"),
                "in_flight": (409, "in-flight", "a request with this Idempotency-Key is still being processed; retry later"),
                "too_many": (429, "too-many-requests", "this key already streams as many exports as one key may"),
            }[self.mode]
            return httpx.Response(
                status,
                headers={"content-type": "application/problem+json"},
                json={"type": f"/problems/{kind}", "title": kind, "status": status, "detail": detail},
                request=request,
            )
        response = super().handle_request(request)
        if request.method == self.method:
            response.read()
            self.answers.append(response)
        if first and self.mode == "lost_answer":
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        return response


def flaky_client(server: Server, transport: httpx.BaseTransport) -> Client:
    return Client(server.base_url, server.admin_key, retry=FAST, transport=transport)


@pytest.mark.parametrize("mode", ["lost_answer", "refused", "unavailable", "in_flight"])
def test_retried_post_writes_once(server: Server, client: Client, unique: str, mode: str) -> None:
    flaky = Flaky(mode)
    with flaky_client(server, flaky) as retrying:
        case = retrying.claims.create_case(external_id=f"CLAIM-RETRY-{unique}", case_type="auto", title="Retried")
    keys = {r.headers["idempotency-key"] for r in flaky.sent}
    assert len(flaky.sent) == 2 and len(keys) == 1, "both attempts carry the same key"
    if mode == "lost_answer":
        # The first attempt was written; the retry is the stored answer replayed.
        assert [a.headers.get("idempotent-replayed") for a in flaky.answers] == [None, "true"]
        assert flaky.answers[0].json()["id"] == str(case.id)
    rows = client.claims.list_cases(external_id=f"CLAIM-RETRY-{unique}").to_list()
    assert [r.id for r in rows] == [case.id]


def test_lost_answer_of_an_event_is_one_event(server: Server, client: Client, unique: str) -> None:
    flaky = Flaky("lost_answer")
    with flaky_client(server, flaky) as retrying:
        recorded = retrying.events.log_event("sms_sent", payload={"template": "reminder"}, provenance=f"py-{unique}")
    assert recorded.duplicate is False
    assert [e.id for e in client.events.list_events(provenance=f"py-{unique}")] == [recorded.id]


def test_caller_key_makes_two_calls_one_write(client: Client, unique: str) -> None:
    a = client.claims.create_team(name=f"Team {unique}", capacity=3, sla_target_hours=8, idempotency_key=f"team-{unique}")
    b = client.claims.create_team(name=f"Team {unique}", capacity=3, sla_target_hours=8, idempotency_key=f"team-{unique}")
    assert a.id == b.id
    assert len(client.claims.list_teams(name=f"Team {unique}").to_list()) == 1


def test_a_conflict_of_state_is_not_retried(server: Server, client: Client, unique: str) -> None:
    participant = {"first_name": "Ivy", "last_name": f"Retry-{unique}", "date_of_birth": "1990-09-09", "contact_consent": True}
    client.trials.create_participant(**participant)
    counting = Flaky("none")
    with flaky_client(server, counting) as c, pytest.raises(Conflict):
        c.trials.create_participant(**participant)
    assert len(counting.sent) == 1


def test_patch_whose_answer_was_lost_is_not_resent(server: Server, client: Client, unique: str) -> None:
    case = client.claims.create_case(external_id=f"CLAIM-PATCH-{unique}", case_type="auto", title="Patch")
    flaky = Flaky("lost_answer", method="PATCH")
    with flaky_client(server, flaky) as c, pytest.raises(TransportError):
        c.claims.update_case(case.id, title="Patched")
    assert len(flaky.sent) == 1
    assert client.claims.get_case(case.id).title == "Patched"


def test_a_read_told_429_is_sent_again(server: Server, client: Client, unique: str) -> None:
    case = client.claims.create_case(external_id=f"CLAIM-429-{unique}", case_type="auto", title="Busy")
    flaky = Flaky("too_many", method="GET")
    with flaky_client(server, flaky) as c:
        rows = c.claims.list_cases(external_id=f"CLAIM-429-{unique}").to_list()
    assert [r.id for r in rows] == [case.id]
    assert len(flaky.sent) == 2, "the 429 was retried once"
