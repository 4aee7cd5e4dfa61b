"""Models generated from Custodian's OpenAPI document. Do not edit.

Regenerate with ``python clients/python/generate.py``. Core models (events,
audit, problems) are here; each module's are in its own submodule
(``custodian_client.models.claims``, ``.trials``, ``.analytics``,
``.therapy``, ``.acoustics``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType


class AuditEntry(BaseModel):
    """
    One link of the chain.
    """

    action: str
    """
    What was done: `create`, `update`, `delete`, `read`, ...
    """
    actor: str
    """
    Who made it (a principal's name, or `system`).
    """
    at: AwareDatetime
    """
    When the change was made (UTC, microseconds).
    """
    changed: list[str]
    """
    Names of the fields written (never their values).
    """
    entity: str
    """
    The kind of record, e.g. `event`, `case`.
    """
    entity_id: str | None = None
    """
    The record's id.
    """
    hash: str
    """
    SHA-256 of prev_hash and this entry's canonical JSON (hex).
    """
    prev_hash: str
    """
    The previous entry's hash (hex); 64 zeros for the first.
    """
    request_id: str | None = None
    """
    The HTTP request that made the change.
    """
    seq: int
    """
    Position in the chain, from 1, without gaps.
    """


class Break1(BaseModel):
    """
    The entry's content does not match its hash: a field was edited.
    """

    kind: Literal['hash_mismatch']


class Break2(BaseModel):
    """
    The entry's `prev_hash` is not the previous entry's hash.
    """

    kind: Literal['broken_link']


class Break3(BaseModel):
    """
    A sequence number is missing: entries were deleted.
    """

    expected: int
    """
    The seq that should have come next.
    """
    kind: Literal['gap']


class Break4(BaseModel):
    """
    The chain is shorter than a signed checkpoint says it was.
    """

    checkpoint_seq: int
    """
    The checkpoint's seq.
    """
    kind: Literal['truncated']
    last_seq: int
    """
    The last seq present.
    """


class Break5(BaseModel):
    """
    The entry at the checkpoint's seq is not the one that was signed.
    """

    kind: Literal['checkpoint_mismatch']


Break = TypeAliasType("Break", Break1 | Break2 | Break3 | Break4 | Break5)
"""
Why verification stopped.
"""


class ChainBreak(BaseModel):
    """
    The first problem found, and where.
    """

    reason: Break
    """
    What is wrong.
    """
    seq: int
    """
    The first bad entry (for a truncation, the checkpoint's seq).
    """


ErasureReason = TypeAliasType("ErasureReason", Literal['consent_withdrawn', 'subject_request', 'retention_expired', 'legal_obligation', 'recorded_in_error'])
"""
Why a subject is erased: a fixed list, so the chain never holds a
client's free text.
"""


class ErasureReport(BaseModel):
    """
    What an erasure did.
    """

    files_failed: Annotated[int, Field(ge=0)]
    """
    Files that could not be removed (still to be removed by hand).
    """
    files_removed: Annotated[int, Field(ge=0)]
    """
    Files removed after the commit.
    """
    keys_destroyed: Annotated[int, Field(ge=0)]
    """
    Data keys destroyed (the subject's and its dependants').
    """
    module: str
    """
    The module.
    """
    reason: ErasureReason
    """
    The reason category.
    """
    rows: dict[str, Any]
    """
    Rows whose personal fields were replaced, per table.
    """
    subject_id: UUID
    """
    The subject's id.
    """
    subject_type: str
    """
    The subject type.
    """


class ErasureRequest(BaseModel):
    """
    An erasure asked for: only a reason category, so no free text reaches
    the chain.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    reason: ErasureReason
    """
    Why the subject is erased.
    """


class Event(BaseModel):
    """
    One recorded event; never updated or deleted.
    """

    created_at: AwareDatetime
    """
    When it was recorded (UTC, microseconds).
    """
    event_type: str
    """
    What happened, e.g. `sms_sent`.
    """
    id: UUID
    """
    UUID v7, so ids sort by time.
    """
    idempotency_key: str | None = None
    """
    The caller's retry key; unique per scope when present.
    """
    payload: dict[str, Any]
    """
    Details, as the caller gave them.
    """
    provenance: str | None = None
    """
    Which system or agent produced the event.
    """
    subject_id: UUID | None = None
    """
    The id of that thing.
    """
    subject_type: str | None = None
    """
    The kind of thing the event is about, e.g. `participant`.
    """


class InvalidParam(BaseModel):
    """
    One bad parameter or field.
    """

    name: str
    """
    The parameter or field name.
    """
    reason: str
    """
    Why it was refused.
    """


class NewEvent(BaseModel):
    """
    An event to record, validated by [`NewEvent::validate`] before it is written.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    event_type: Annotated[
        str,
        Field(
            max_length=100,
            min_length=1,
            pattern='[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]',
        ),
    ]
    """
    What happened.
    """
    idempotency_key: Annotated[
        str | None,
        Field(
            max_length=255,
            min_length=1,
            pattern='[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]',
        ),
    ] = None
    """
    The caller's retry key: the same key from the same caller is
    recorded once; reused for a different event it is refused.
    """
    payload: dict[str, Any] | None = None
    """
    Details; `{}` when absent.
    """
    provenance: Annotated[
        str | None,
        Field(
            max_length=200,
            min_length=1,
            pattern='[^\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]',
        ),
    ] = None
    """
    Who or what produced it.
    """
    subject_id: UUID | None = None
    """
    The id of that thing.
    """
    subject_type: Annotated[
        str | None, Field(max_length=64, min_length=1, pattern='^[A-Za-z0-9_.-]+$')
    ] = None
    """
    The kind of thing it is about: letters, digits, `_`, `.` and `-`
    (so no invisible or look-alike character can make `participant`
    read as another type).
    """


class AuditEntryPage(BaseModel):
    """
    One page of a list.
    """

    items: list[AuditEntry]
    """
    The rows, in the query's order.
    """
    next_cursor: str | None = None
    """
    Pass as `cursor` for the next page; `None` on the last page.
    """
    total: Annotated[int | None, Field(ge=0)] = None
    """
    Rows matching the filters, when `Prefer: count=exact` was sent.
    """


class EventPage(BaseModel):
    """
    One page of a list.
    """

    items: list[Event]
    """
    The rows, in the query's order.
    """
    next_cursor: str | None = None
    """
    Pass as `cursor` for the next page; `None` on the last page.
    """
    total: Annotated[int | None, Field(ge=0)] = None
    """
    Rows matching the filters, when `Prefer: count=exact` was sent.
    """


class Problem(BaseModel):
    """
    An RFC 9457 problem document.
    """

    detail: str | None = None
    """
    What went wrong in this occurrence.
    """
    instance: str | None = None
    """
    The request path.
    """
    invalid_params: list[InvalidParam] | None = None
    """
    Each bad query parameter or body field, by name.
    """
    request_id: str | None = None
    """
    The `x-request-id` of the request, for finding it in logs.
    """
    status: Annotated[int, Field(ge=0)]
    """
    The HTTP status code.
    """
    title: str
    """
    Short summary of the kind.
    """
    type: str
    """
    Stable identifier of the kind of problem, e.g. `/problems/bad-query`.
    """


class Recorded(BaseModel):
    """
    The answer to recording an event.
    """

    duplicate: bool
    """
    True when the idempotency key was already recorded and nothing was written.
    """
    id: UUID
    """
    The event's id (the existing one for a duplicate key).
    """


class ReplicaHealth(BaseModel):
    """
    One read replica's state, by `host:port` (never its URL).
    """

    lag_seconds: float | None = None
    """
    Seconds behind the primary; 0 when it has replayed all the primary
    wrote, null when unknown.
    """
    replay_lsn: str | None = None
    """
    How far it has replayed, as a `Custodian-Consistency` token (16 hex
    digits), so a token can be compared with it.
    """
    replica: str
    """
    `host:port` of the replica.
    """
    state: str
    """
    `ok` (reads go there), `lagging` (beyond `database.replica_max_lag`),
    `down`, `not_in_recovery` (promoted: no longer a replica) or `unknown`
    (not checked yet); all but `ok` are skipped.
    """


class Verification(BaseModel):
    """
    The outcome of [`verify`].
    """

    entries: Annotated[int, Field(ge=0)]
    """
    Entries verified intact, from seq 1 up to the first break (all of
    them when there is none).
    """
    first_break: ChainBreak | None = None
    head_hash: str | None = None
    """
    The last intact entry's hash.
    """
    head_seq: int | None = None
    """
    The last intact entry's seq, when there is one.
    """


class Health(BaseModel):
    """
    The answer of a health route.
    """

    backend: str | None = None
    """
    `sqlite` or `postgres` (readiness only).
    """
    replicas: list[ReplicaHealth] | None = None
    """
    Each configured read replica as last checked (readiness only, when
    replicas are configured); a replica that is down does not make the
    service unready: reads go to the primary meanwhile.
    """
    status: str
    """
    `ok` or `ready`.
    """
