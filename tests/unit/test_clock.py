"""platform_kit.clock.proto_timestamp: the same Timestamp as protobuf's own FromDatetime."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from platform_kit.clock import SCHOOL_TIME, proto_timestamp

MOMENTS = [
    datetime(1970, 1, 1, tzinfo=timezone.utc),
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 0, 30, 0, 1, tzinfo=SCHOOL_TIME),  # the night the clocks go back
    datetime(2026, 12, 5, 7, 59, 59, 123_456, tzinfo=timezone(timedelta(hours=1))),
    datetime(2038, 1, 19, 3, 14, 8, 500_000, tzinfo=timezone.utc),
]


def protobufs(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_an_aware_moment_is_the_same_instant(moment):
    assert proto_timestamp(moment) == protobufs(moment)
    assert proto_timestamp(moment).ToDatetime(tzinfo=timezone.utc) == moment


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_naive_moment_is_utc_as_sqlite_returns_it(moment):
    naive = moment.astimezone(timezone.utc).replace(tzinfo=None)
    assert proto_timestamp(naive) == protobufs(naive) == protobufs(moment)
