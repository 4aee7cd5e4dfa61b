"""The consistency token: kept from write answers, newest wins, echoed on reads only."""

from __future__ import annotations

import httpx

from custodian_client import Client

HEADER = "Custodian-Consistency"


class Recorder(httpx.BaseTransport):
    """Answers every request itself; a POST answers with the next token in ``tokens``."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        headers = {"content-type": "application/json"}
        if request.method == "POST" and self.tokens:
            headers[HEADER] = self.tokens.pop(0)
        return httpx.Response(200, headers=headers, json={}, request=request)


def test_the_newest_token_is_echoed_on_reads_and_never_on_writes() -> None:
    transport = Recorder(["0000000003000060", "00000000030000A0", "0000000003000010", "not-a-token"])
    client = Client("http://custodian.test", "key", transport=transport)
    client._transport.send("GET", "/v1/events")
    assert HEADER not in transport.seen[-1].headers, "no token before the first write"
    for _ in range(4):
        client._transport.send("POST", "/v1/events", json={})
        assert HEADER not in transport.seen[-1].headers, "a write carries no token"
    # The older and the malformed answers did not replace the newest.
    assert client.consistency.token == "00000000030000A0"
    client._transport.send("GET", "/v1/events")
    assert transport.seen[-1].headers[HEADER] == "00000000030000A0"
    client._transport.send("GET", "/v1/events", headers={HEADER: "0000000000000001"})
    assert transport.seen[-1].headers[HEADER] == "0000000000000001", "a caller's own token is kept"
