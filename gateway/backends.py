"""gRPC stubs for the services behind the gateway, created lazily in each worker process (gRPC
channels must not cross a fork), and the caller's token forwarded to them."""
from __future__ import annotations

import threading

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dziennik.attendance.v1 import attendance_pb2_grpc
from dziennik.billing.v1 import billing_pb2_grpc
from dziennik.gradebook.v1 import gradebook_pb2_grpc
from dziennik.identity.v1 import identity_pb2_grpc
from dziennik.messaging.v1 import messaging_pb2_grpc
from dziennik.notify.v1 import notify_pb2_grpc
from platform_kit.auth import TokenVerifier, service_metadata
from platform_kit.config import DEFAULT_GRPC_PORTS, CommonSettings
from platform_kit.grpc_client import open_channel
from platform_kit.grpc_names import READINESS

SERVICES = tuple(DEFAULT_GRPC_PORTS)


class Backends:
    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[str, object] = {}
        self._lock = threading.Lock()
        self.verifier = TokenVerifier(self._jwks)

    def channel(self, service: str) -> grpc.Channel:
        channel = self._channels.get(service)
        if channel is None:
            with self._lock:
                channel = self._channels.get(service)
                if channel is None:
                    channel = self._channels[service] = open_channel(
                        self.settings.grpc_target(service), deadline_seconds=self.settings.grpc_deadline_seconds, service=service
                    )
        return channel

    def _stub(self, service: str, kind):
        """One stub per backend and process (a stub builds a callable for each of its methods)."""
        stub = self._stubs.get(service)
        if stub is None:
            stub = self._stubs.setdefault(service, kind(self.channel(service)))
        return stub

    @property
    def identity(self) -> identity_pb2_grpc.IdentityServiceStub:
        return self._stub("identity", identity_pb2_grpc.IdentityServiceStub)

    @property
    def attendance(self) -> attendance_pb2_grpc.AttendanceServiceStub:
        return self._stub("attendance", attendance_pb2_grpc.AttendanceServiceStub)

    @property
    def messaging(self) -> messaging_pb2_grpc.MessagingServiceStub:
        return self._stub("messaging", messaging_pb2_grpc.MessagingServiceStub)

    @property
    def billing(self) -> billing_pb2_grpc.BillingServiceStub:
        return self._stub("billing", billing_pb2_grpc.BillingServiceStub)

    @property
    def notify(self) -> notify_pb2_grpc.NotifyServiceStub:
        return self._stub("notify", notify_pb2_grpc.NotifyServiceStub)

    @property
    def gradebook(self) -> gradebook_pb2_grpc.GradebookServiceStub:
        return self._stub("gradebook", gradebook_pb2_grpc.GradebookServiceStub)

    def record_audit(self, entries) -> None:
        """Hand audit entries to identity as the gateway (a service), not as the request's caller."""
        from dziennik.identity.v1 import identity_pb2

        self.identity.RecordAudit(identity_pb2.RecordAuditRequest(entries=entries), metadata=service_metadata(self.settings.service_token))

    def _jwks(self) -> str:
        from dziennik.identity.v1 import identity_pb2

        return self.identity.GetJwks(identity_pb2.GetJwksRequest()).jwks_json

    def readiness(self, timeout: float) -> dict[str, bool]:
        """Each backend's readiness as its health service reports it, asked all at once."""
        request = health_pb2.HealthCheckRequest(service=READINESS)
        calls = {
            service: health_pb2_grpc.HealthStub(self.channel(service)).Check.future(request, timeout=timeout, wait_for_ready=False)
            for service in SERVICES
        }
        result = {}
        for service, call in calls.items():
            try:
                result[service] = call.result().status == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                result[service] = False
        return result
