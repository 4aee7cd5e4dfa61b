"""Hook for the consistency token of a scaled-out deployment.

When Custodian serves reads from replicas, a write will answer with a
consistency token that later reads echo so they see that write. The server
does not send one yet, so this hook does nothing: it is the one place the
client will remember the token from responses and echo it on requests once
the server defines them. No header is invented here.
"""

from __future__ import annotations

import httpx


class ConsistencyTokens:
    """Remembers the newest consistency token and echoes it (not yet defined: no-op)."""

    def on_request(self, request: httpx.Request) -> None:
        """Add the remembered token to an outgoing request. Nothing to add yet."""

    def on_response(self, response: httpx.Response) -> None:
        """Remember the token a response carries. The server sends none yet."""
