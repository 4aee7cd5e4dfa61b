"""Acoustics: an audio processing record saved twice is one record."""

from __future__ import annotations

from custodian_client import Client


def test_save_audio_processing_is_an_upsert(client: Client) -> None:
    audio = {
        "study": "PYTEST", "participant_number": 2001, "linked_biomechanics": False,
        "audio_file_name": "test.bin", "device_serial": "SN123", "firmware_version": 1,
        "file_time": "2024-01-01T10:00:00Z", "file_size_mb": 100.0,
        "recording_date": "2024-01-01", "recording_time": "2024-01-01T10:00:00Z",
        "knee": "left", "maneuver": "walk", "pass_number": 2, "speed": "normal", "num_channels": 4,
        "mic_1_position": "IPM", "mic_2_position": "IPL", "mic_3_position": "SPM", "mic_4_position": "SPL",
        "qc_fail_channels": [False, True, False, False],
        "artifact_types_channels": [[], ["friction"], [], []],
        "fail_segments_channels": [[], [[1.5, 2.25]], [], []],
    }  # fmt: skip
    first = client.acoustics.save_audio_processing(audio, pkl_file_path="2001/walk_normal_p2_audio.pkl")
    again = client.acoustics.save_audio_processing(audio, pkl_file_path="2001/walk_normal_p2_audio.pkl")
    assert first.id == again.id
    assert first.qc_fail is True and first.artifact_types_ch2 == ["friction"]
    records = client.acoustics.get_audio_processing_records("PYTEST", 2001, "walk").to_list()
    assert [r.id for r in records] == [first.id]
    demo_walks = client.acoustics.get_audio_processing_records("AOA", 1011, "walk").to_list()
    assert demo_walks and all(r.participant_number == 1011 for r in demo_walks)
