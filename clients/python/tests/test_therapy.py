"""Therapy: a session's transcript saved and read back, and searched."""

from __future__ import annotations

from datetime import datetime, timezone

from custodian_client import Client, Conflict


def test_save_transcript_and_search(client: Client) -> None:
    person = client.therapy.create_client(age=29, gender="female")
    session = client.therapy.create_session(person.id, datetime(2026, 12, 3, 15, tzinfo=timezone.utc))
    segments = [
        {"start": 0.0, "end": 1.5, "text": "I have been worried about work.", "speaker": "client"},
        {"start": 1.5, "end": 4.2, "text": "What worries you the most?", "speaker": "therapist"},
    ]
    saved = client.therapy.save_transcript(session.id, segments)
    assert saved.sentences == 2 and saved.replaced == 0

    sentences = client.therapy.get_session_transcript(session.id)
    assert [(s.start_ms, s.end_ms, s.sequence_number) for s in sentences] == [(0, 1500, 0), (1500, 4200, 1)]

    client.therapy.update_keywords(sentences[0].id, [{"term": "work", "score": 0.9}])
    assert [s.id for s in client.therapy.search_keywords(person.id, "work")] == [sentences[0].id]
    hits = client.therapy.search("worry", client_id=person.id)
    assert {h.session_id for h in hits.items} == {session.id} and len(hits.items) == 2
    assert client.therapy.get_client_summary(person.id).total_sessions == 1

    try:
        client.therapy.save_transcript(session.id, segments)
    except Conflict:
        pass
    else:  # pragma: no cover
        raise AssertionError("a second transcript without replace is a conflict")
    assert client.therapy.save_transcript(session.id, segments[:1], replace=True).replaced == 2
    assert len(client.therapy.get_session_transcript(session.id)) == 1
