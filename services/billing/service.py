"""Billing as a process: settings, wiring and the command line (see platform_kit.service)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platform_kit.config import DEFAULT_GRPC_PORTS, PORT, ServiceSettings, service_settings, setting
from platform_kit.service import Runtime, ServiceDefinition

if TYPE_CHECKING:
    from platform_kit.grpc_server import Registration


@service_settings("billing")
class BillingSettings(ServiceSettings):
    grpc_port: int = setting(DEFAULT_GRPC_PORTS["billing"], **PORT)
    public_url: str = setting("http://localhost:8080", "DZIENNIK_PUBLIC_URL", pattern=r"^https?://")
    # Defaults fit the PayU simulator that `make run` starts; production sets PayU's values.
    payu_base_url: str = setting("http://127.0.0.1:8090", "PAYU_BASE_URL", pattern=r"^https?://")
    payu_pos_id: str = setting("300746", "PAYU_POS_ID")
    payu_client_id: str = setting("300746", "PAYU_CLIENT_ID")
    payu_client_secret: str = setting("simulator-client-secret", "PAYU_CLIENT_SECRET")
    payu_second_key: str = setting("simulator-second-key", "PAYU_SECOND_KEY", min_length=8)
    account_number: str = setting("PL61 1090 1014 0000 0712 1981 2874", "BILLING_ACCOUNT_NUMBER")
    recipient: str = setting("Dziennik — płatności szkolne", "BILLING_RECIPIENT")


def grpc_services(runtime: Runtime) -> list[Registration]:
    # imported here: only `serve` loads the servicer and what it uses (memory of the relay)
    from platform_kit.grpc_server import Registration
    from services.billing.grpc_api import BillingServicer, IdentityFamilies
    from services.billing.payu import PayU
    from services.billing.use_cases import Billing, BillingConfig

    s: BillingSettings = runtime.settings  # type: ignore[assignment]
    payu = PayU(s.payu_base_url, s.payu_pos_id, s.payu_client_id, s.payu_client_secret)
    config = BillingConfig(public_url=s.public_url, second_key=s.payu_second_key, account_number=s.account_number, recipient=s.recipient)
    billing = Billing(runtime.database, IdentityFamilies(runtime.channel("identity"), s.service_token), payu, config)
    return [Registration.of(BillingServicer(billing))]


DEFINITION = ServiceDefinition(
    name="billing",
    settings_class=BillingSettings,
    migrations=Path(__file__).parent / "migrations",
    grpc=grpc_services,
)
