"""AsyncClient: the same layer, awaited (run with asyncio, no plugin needed)."""

from __future__ import annotations

import asyncio

from custodian_client import AsyncClient, NotFound

from .conftest import Server


def test_async_flow(server: Server, unique: str) -> None:
    async def flow() -> None:
        async with AsyncClient(server.base_url, server.admin_key) as client:
            cases = [c async for c in client.claims.list_cases(case_type="auto", limit=9)]
            assert len(cases) > 9 and len({c.id for c in cases}) == len(cases)
            frame = await client.claims.list_cases(case_type="auto", limit=9).to_pandas()
            assert len(frame) == len(cases)
            p = await client.trials.create_participant(
                first_name="Ada", last_name=f"Async-{unique}", date_of_birth="1975-12-10", contact_consent=True
            )
            results = await asyncio.gather(
                *(client.trials.log_event(p.id, "sms_sent", channel="text", idempotency_key=f"a-{unique}") for _ in range(3))
            )
            assert len({r.event_id for r in results}) == 1
            assert len(await client.events.list_events(subject_id=p.id).to_list()) == 1
            try:
                await client.trials.get_participant("00000000-0000-0000-0000-000000000000")
            except NotFound:
                pass
            else:  # pragma: no cover
                raise AssertionError("expected NotFound")

    asyncio.run(flow())
