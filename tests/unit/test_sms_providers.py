"""The SMSAPI and Twilio adapters against local fakes that answer as the real APIs do
(including SMSAPI's errors sent with HTTP 200, duplicate idx, 5xx and 429), Twilio's callback
signature, and what the dispatcher makes of each failure."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from services.notify.providers import ProviderError
from services.notify.providers.smsapi import SmsApiProvider
from services.notify.providers.twilio import TwilioProvider, twilio_signature, verify_twilio_signature
from tests.fakes.smsapi import FakeSmsApi


@pytest.fixture
def fake_smsapi() -> Iterator[FakeSmsApi]:
    fake = FakeSmsApi().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_twilio_app() -> Flask:
    app = Flask("fake-twilio")
    app.config["state"] = state = {"fail_with": None}

    @app.post("/2010-04-01/Accounts/<sid>/Messages.json")
    def messages(sid):
        if request.authorization is None or (request.authorization.username, request.authorization.password) != ("AC1", "secret"):
            return {"code": 20003, "message": "Authenticate", "status": 401}, 401
        if state["fail_with"]:
            return {"code": 20500, "message": "Internal Server Error", "status": state["fail_with"]}, state["fail_with"]
        if not request.form.get("To", "").startswith("+"):
            return {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}, 400
        return {"sid": "SM123", "status": "queued", "to": request.form["To"]}, 201

    return app


@pytest.fixture
def fake_twilio(fake_twilio_app) -> Iterator[tuple[str, dict]]:
    yield from _serve(fake_twilio_app, fake_twilio_app.config["state"])


def _serve(app: Flask, state: dict):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", state
    server.shutdown()


def test_smsapi_sends_with_idx_and_treats_a_repeated_idx_as_already_sent(fake_smsapi):
    provider = SmsApiProvider(fake_smsapi.url, "token-1", "Dziennik", "http://gw/api/v1/notify/sms/delivery-report/smsapi?key=k")
    idx = "0f8fad5b-d9cb-469f-a165-70867728950e"
    sent = provider.send(idx=idx, to="+48600100200", body="Dziennik: test", parts=1)
    assert sent.provider_message_id == "smsapi-1"
    form = fake_smsapi.accepted[0]
    assert (form["to"], form["idx"], form["check_idx"], form["from"]) == ("48600100200", idx.replace("-", ""), "1", "Dziennik")
    again = provider.send(idx=idx, to="+48600100200", body="Dziennik: test", parts=1)  # a resend after a crash
    assert again.provider_message_id.startswith("idx:") and len(fake_smsapi.seen_idx) == 1


def test_smsapi_goes_through_the_proxy_the_environment_names_and_around_it_for_no_proxy_hosts(fake_smsapi, monkeypatch):
    # The fake stands in for an HTTP proxy: it answers absolute-URI requests for a host that
    # does not resolve, which only reach it through the proxy.
    monkeypatch.setenv("HTTP_PROXY", fake_smsapi.url)
    monkeypatch.setenv("NO_PROXY", "")
    proxied = SmsApiProvider("http://api.smsapi.invalid", "token-1", "Dziennik", "http://gw/cb")
    assert proxied.send(idx="1f8fad5b-d9cb-469f-a165-70867728950e", to="+48600100200", body="Dziennik: test", parts=1).provider_message_id == "smsapi-1"

    monkeypatch.setenv("NO_PROXY", "api.smsapi.invalid")
    direct = SmsApiProvider("http://api.smsapi.invalid", "token-1", "Dziennik", "http://gw/cb", timeout=2)
    with pytest.raises(ProviderError) as unreachable:
        direct.send(idx="2f8fad5b-d9cb-469f-a165-70867728950e", to="+48600100200", body="Dziennik: test", parts=1)
    assert unreachable.value.retryable and len(fake_smsapi.accepted) == 1


def test_smsapi_errors_with_http_200_are_not_retried_and_5xx_are(fake_smsapi):
    provider = SmsApiProvider(fake_smsapi.url, "token-1", "Dziennik", "http://gw/cb")
    with pytest.raises(ProviderError) as wrong_number:
        provider.send(idx="a" * 32, to="+4812", body="x", parts=1)
    assert wrong_number.value.retryable is False and "13" in str(wrong_number.value)
    for status in (500, 503, 429):
        fake_smsapi.outage = status
        with pytest.raises(ProviderError) as outage:
            provider.send(idx="b" * 32, to="+48600100200", body="x", parts=1)
        assert outage.value.retryable is True
    unreachable = SmsApiProvider("http://127.0.0.1:9", "token-1", "Dziennik", "http://gw/cb", timeout=1)
    with pytest.raises(ProviderError) as down:
        unreachable.send(idx="c" * 32, to="+48600100200", body="x", parts=1)
    assert down.value.retryable is True


def test_twilio_sends_and_classifies_failures(fake_twilio):
    url, state = fake_twilio
    provider = TwilioProvider(url, "AC1", "secret", "+48500000000", "http://gw/api/v1/notify/sms/delivery-report/twilio")
    assert provider.send(idx="x", to="+48600100200", body="Dziennik: test", parts=1).provider_message_id == "SM123"
    with pytest.raises(ProviderError) as refused:
        provider.send(idx="x", to="600100200", body="x", parts=1)
    assert refused.value.retryable is False and "not a valid phone number" in str(refused.value)
    state["fail_with"] = 500
    with pytest.raises(ProviderError) as outage:
        provider.send(idx="x", to="+48600100200", body="x", parts=1)
    assert outage.value.retryable is True


def test_twilio_callback_signature():
    # Twilio's documented example: URL + parameters sorted by name, HMAC-SHA1 with the auth token.
    params = {"MessageSid": "SM123", "MessageStatus": "delivered", "To": "+48600100200"}
    url = "https://dziennik.example/api/v1/notify/sms/delivery-report/twilio"
    signature = twilio_signature("secret", url, params)
    assert verify_twilio_signature("secret", url, params, signature)
    assert not verify_twilio_signature("other", url, params, signature)
    assert not verify_twilio_signature("secret", url, {**params, "MessageStatus": "failed"}, signature)
    assert not verify_twilio_signature("secret", url, params, "")


class _Provider:
    name = "stub"

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.calls = 0

    def send(self, *, idx, to, body, parts):
        from services.notify.providers import Sent

        self.calls += 1
        if self.error:
            raise self.error
        return Sent("m-1")


def _queued(tmp_path, count: int = 1):
    import uuid

    from platform_kit.clock import utcnow
    from platform_kit.db import Database
    from services.notify.orm import Base, Sms

    database = Database(f"sqlite:///{tmp_path / 'notify.db'}")
    Base.metadata.create_all(database.engine)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with database.transaction() as session:
        for n, sms_id in enumerate(ids):
            session.add(Sms(id=sms_id, source_event_id="e", kind="grade_recorded", recipient_user_id=f"p{n}", phone=f"+48600100{n:03d}", body="x",
                            encoding="GSM-7", parts=1, status="queued", created_at=utcnow(), attempts=0, provider="", provider_message_id="", last_error=""))
    return (database, ids[0]) if count == 1 else (database, ids)


def test_the_dispatcher_hands_a_batch_over_on_several_connections_and_records_each_outcome(tmp_path):
    """A real provider answers in 100-300 ms; sending one at a time would cap alerts at a few per
    second. Two sends must be in flight together (the barrier breaks otherwise), and each SMS
    gets its own outcome: sent with the provider's id, or back-off for the one number that failed."""
    import threading

    from services.notify.alerts import Dispatcher
    from services.notify.providers import ProviderError, Sent

    database, ids = _queued(tmp_path, 12)
    together = threading.Barrier(2, timeout=10)

    class Slow:
        name = "stub"

        def __init__(self) -> None:
            self.seen: list[str] = []
            self.lock = threading.Lock()

        def send(self, *, idx, to, body, parts):
            with self.lock:
                self.seen.append(idx)
                first_two = len(self.seen) <= 2
            if first_two:
                together.wait()
            if to.endswith("005"):
                raise ProviderError("503", retryable=True)
            return Sent(f"m-{to[-3:]}")

    provider = Slow()
    assert Dispatcher(database, provider, batch_size=5, concurrency=4).send_pending() == 11
    assert sorted(provider.seen) == sorted(ids)  # each handed over once
    states = {sms_id: _state(database, sms_id) for sms_id in ids}
    assert [s[0] for s in states.values()].count("sent") == 11
    assert states[ids[5]][:2] == ("queued", 1) and states[ids[5]][2] is not None  # its own back-off
    from sqlalchemy import select

    from dziennik.notify.v1.events_pb2 import SmsSent
    from platform_kit.bus.tables import OUTBOX_TABLE

    with database.transaction() as session:
        news = session.execute(select(OUTBOX_TABLE.c.routing_key, OUTBOX_TABLE.c.payload, OUTBOX_TABLE.c.headers)).all()
    assert {routing_key for routing_key, _, _ in news} == {"notify.sms_sent.v1"}
    assert sorted(SmsSent.FromString(payload).sms_id for _, payload, _ in news) == sorted(i for i in ids if i != ids[5])  # one event per SMS sent


def _state(database, sms_id):
    from services.notify.orm import Sms

    with database.transaction() as session:
        sms = session.get(Sms, sms_id)
        return sms.status, sms.attempts, sms.send_after


def test_the_dispatcher_gives_up_at_once_on_a_refusal(tmp_path):
    from services.notify.alerts import Dispatcher

    database, sms_id = _queued(tmp_path)
    Dispatcher(database, _Provider(ProviderError("error 13", retryable=False))).send_pending()
    status, attempts, _ = _state(database, sms_id)
    assert (status, attempts) == ("failed", 1)


def test_the_dispatcher_backs_off_on_an_outage_then_dead_letters(tmp_path):
    from services.notify import alerts
    from services.notify.orm import Sms

    database, sms_id = _queued(tmp_path)
    provider = _Provider(ProviderError("503", retryable=True))
    dispatcher = alerts.Dispatcher(database, provider)
    dispatcher.send_pending()
    status, attempts, send_after = _state(database, sms_id)
    assert status == "queued" and attempts == 1 and send_after is not None
    dispatcher.send_pending()
    assert provider.calls == 1  # not due yet: back-off respected
    for _ in range(alerts.MAX_SEND_ATTEMPTS):
        with database.transaction() as session:
            session.get(Sms, sms_id).send_after = None  # time passes
        dispatcher.send_pending()
    status, attempts, _ = _state(database, sms_id)
    assert (status, attempts) == ("failed", alerts.MAX_SEND_ATTEMPTS)


def test_a_delivery_report_updates_the_sent_log(tmp_path):
    from services.notify.alerts import record_delivery_report
    from services.notify.orm import Sms

    database, sms_id = _queued(tmp_path)
    with database.transaction() as session:
        sms = session.get(Sms, sms_id)
        sms.status, sms.provider, sms.provider_message_id = "sent", "smsapi", "smsapi-7"
    assert record_delivery_report(database, "smsapi", "", sms_id.replace("-", ""), "DELIVERED")  # by idx
    assert not record_delivery_report(database, "smsapi", "nope", "", "DELIVERED")
    assert not record_delivery_report(database, "twilio", "smsapi-7", "", "delivered")  # another provider's id
    with database.transaction() as session:
        assert session.get(Sms, sms_id).delivery_status == "DELIVERED"


def test_smsapi_keeps_one_connection_open_for_many_sms(fake_smsapi, monkeypatch):
    import urllib3.util.connection

    opened = []
    connect = urllib3.util.connection.create_connection

    def counted(*args, **kwargs):
        opened.append(args[0])
        return connect(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    provider = SmsApiProvider(fake_smsapi.url, "token-1", "Dziennik", "http://gw/cb")
    for n in range(5):
        provider.send(idx=f"{n}f8fad5b-d9cb-469f-a165-70867728950e", to="+48600100200", body="Dziennik: test", parts=1)
    assert len(fake_smsapi.accepted) == 5 and len(opened) == 1


def test_how_many_sms_go_out_at_once_is_configured_within_bounds(monkeypatch):
    from platform_kit.config import ConfigError, load_settings
    from services.notify.service import NotifySettings

    assert load_settings(NotifySettings).send_concurrency == 8
    monkeypatch.setenv("NOTIFY_SEND_CONCURRENCY", "32")
    assert load_settings(NotifySettings).send_concurrency == 32
    monkeypatch.setenv("NOTIFY_SEND_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="NOTIFY_SEND_CONCURRENCY"):
        load_settings(NotifySettings)


def test_the_provider_trusts_the_ca_bundle_the_environment_names_and_only_then(fake_twilio_app, monkeypatch, tmp_path):
    # The fake Twilio behind TLS with a certificate of its own: trusted only through REQUESTS_CA_BUNDLE.
    cert, key = _self_signed_certificate(tmp_path)
    server = make_server("127.0.0.1", 0, fake_twilio_app, threaded=True, ssl_context=(str(cert), str(key)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_port}"
    try:
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        assert TwilioProvider(url, "AC1", "secret", "+48500000000", "http://gw/cb").send(idx="a", to="+48600100200", body="x", parts=1).provider_message_id == "SM123"

        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        with pytest.raises(ProviderError, match="CERTIFICATE_VERIFY_FAILED") as refused:
            TwilioProvider(url, "AC1", "secret", "+48500000000", "http://gw/cb").send(idx="a", to="+48600100200", body="x", parts=1)
        assert refused.value.retryable
    finally:
        server.shutdown()


def _self_signed_certificate(folder) -> tuple:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake provider")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert, key_file
