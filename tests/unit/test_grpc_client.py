"""Channels to our services: a read cut off by UNAVAILABLE is sent again within its deadline; a
write never is (so it is never applied twice)."""
from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from dziennik.notify.v1 import notify_pb2 as pb
from dziennik.notify.v1 import notify_pb2_grpc
from platform_kit.grpc_client import open_channel, read_methods


class Flaky(notify_pb2_grpc.NotifyServiceServicer):
    """The first call of each method fails as a backend dying mid-request would."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def _once_unavailable(self, name: str, context) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "backend went away")

    def GetSettings(self, request, context):
        self._once_unavailable("GetSettings", context)
        return pb.Settings(sms_enabled=True)

    def UpdateSettings(self, request, context):
        self._once_unavailable("UpdateSettings", context)
        return request


@pytest.fixture
def flaky():
    servicer = Flaky()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(None)


def test_a_read_is_retried_and_succeeds(flaky):
    servicer, target = flaky
    stub = notify_pb2_grpc.NotifyServiceStub(open_channel(target, service="notify"))
    assert stub.GetSettings(pb.GetSettingsRequest()).sms_enabled is True
    assert servicer.calls["GetSettings"] == 2


def test_a_write_is_not_resent(flaky):
    servicer, target = flaky
    stub = notify_pb2_grpc.NotifyServiceStub(open_channel(target, service="notify"))
    with pytest.raises(grpc.RpcError) as failed:
        stub.UpdateSettings(pb.Settings(sms_enabled=True))
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls["UpdateSettings"] == 1


def test_without_naming_the_service_nothing_is_retried(flaky):
    servicer, target = flaky
    stub = notify_pb2_grpc.NotifyServiceStub(open_channel(target))
    with pytest.raises(grpc.RpcError):
        stub.GetSettings(pb.GetSettingsRequest())
    assert servicer.calls["GetSettings"] == 1


def test_only_reads_count_as_reads():
    methods = {method for _, method in read_methods("gradebook")}
    assert "ListStudentGrades" in methods and "GetGradeHistory" in methods
    assert not {"RecordGrade", "RecordGrades", "ChangeGrade", "DeleteGrade", "SetTermGrade"} & methods
