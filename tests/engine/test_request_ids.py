import uuid

from gureum.engine.request_ids import RequestIds


def test_request_ids_are_distinct_increasing_version_7_uuids() -> None:
    ids = RequestIds()
    # Many more than 4,096 within a few milliseconds, and across refills of the random batch.
    made = [ids() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    assert made == sorted(made)  # as strings, which is how SQLite orders them
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
