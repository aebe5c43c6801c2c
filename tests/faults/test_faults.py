"""The whole system under load while its parts fail: processes killed or stopped, the broker
stopped, a database cut off, the SMS provider failing, poison and duplicate messages. Each
scenario counts what users should see against what they saw: nothing lost, nothing twice."""
from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pika
import pytest
import requests
from sqlalchemy import create_engine, text

from dziennik.billing.v1 import events_pb2 as billing_events
from dziennik.gradebook.v1 import events_pb2 as gradebook_events
from tests.conftest import POSTGRES_ADMIN_URL, rabbitmqctl
from tests.faults.conftest import Family, School
from tests.faults.report import Row, count
from tests.system import api, wait_ready

pytestmark = pytest.mark.faults

GRADE_RECORDED = "gradebook.grade_recorded.v1"


@dataclass
class Outcome:
    tag: str
    status: int | None  # None: no answer (connection refused or cut)


def grade_burst(school: School, families: list[Family], count_: int, tag: str, *, rate: float, faults: list[tuple[float, Callable[[], None]]] = ()) -> list[Outcome]:
    """`count_` grades through the gateway, round robin over the families' children, offered at
    `rate` per second by 8 clients; each fault runs (in the background) once that share of the
    requests has been offered. Every grade's comment is `tag-n`, to find it in the register."""
    teacher = school.system.headers(school.teacher)
    started: list[threading.Thread] = []
    pending = sorted(faults, key=lambda f: f[0])

    def one(n: int) -> Outcome:
        family = families[n % len(families)]
        body = {"student_id": family.student.id, "subject_id": school.subject_id, "value": random.choice(["2", "3+", "4", "5-", "6"]), "comment": f"{tag}-{n}"}
        try:
            return Outcome(f"{tag}-{n}", api(school.system, "POST", "/grades", teacher, json=body).status_code)
        except requests.RequestException:
            return Outcome(f"{tag}-{n}", None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = []
        begin = time.monotonic()
        for n in range(count_):
            while pending and n >= pending[0][0] * count_:
                thread = threading.Thread(target=pending.pop(0)[1])
                thread.start()
                started.append(thread)
            time.sleep(max(0.0, begin + n / rate - time.monotonic()))
            futures.append(pool.submit(one, n))
        outcomes = [f.result() for f in futures]
    for thread in started:
        thread.join()
    return outcomes


def register(school: School, families: list[Family], tag: str) -> Counter:
    """How many times each tagged grade is in the register, read through the API by the class's
    teacher: gradebook's own answer at once (a parent may be answered from a gateway worker's copy
    of the page, which a change reaches moments later: gateway/page_copies.py)."""
    found: Counter = Counter()
    teacher = school.system.headers(school.teacher)
    for family in families:
        answer = api(school.system, "GET", f"/students/{family.student.id}/grades", teacher)
        assert answer.status_code == 200, answer.text
        for subject in answer.json()["subjects"]:
            found.update(g["comment"] for g in subject["grades"] if (g.get("comment") or "").startswith(f"{tag}-"))
    return found


def expected_sms(school: School, families: list[Family], tag: str) -> dict[str, int]:
    """One SMS per grade in the register, to the child's parent."""
    return {family.phone: sum(register(school, [family], tag).values()) for family in families}


def received_sms(sms_provider, families: list[Family], contains: str = "otrzymal(a) ocene") -> dict[str, int]:
    return {family.phone: sum(1 for m in sms_provider.to(family.phone) if contains in m["message"]) for family in families}


def settle(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def account_sms(sms_provider, school: School, families: list[Family], tag: str, timeout: float = 180) -> tuple[int, int, int, int]:
    """Wait for every grade's SMS, then a little longer for any duplicate; (expected, delivered,
    duplicated, lost)."""
    expected = expected_sms(school, families, tag)
    settle(lambda: all(received_sms(sms_provider, families)[p] >= n for p, n in expected.items()), timeout)
    time.sleep(3)  # a duplicate would come about now (redeliveries and relay retries are sub-second)
    delivered, duplicated, lost = count(expected, received_sms(sms_provider, families))
    return sum(expected.values()), delivered, duplicated, lost


def record(report, scenario: str, load: str, faults: str, numbers: tuple[int, int, int, int], began: float) -> None:
    expected, delivered, duplicated, lost = numbers
    report.append(Row(scenario, load, faults, expected, delivered, duplicated, lost, time.monotonic() - began))
    assert (duplicated, lost) == (0, 0), f"{scenario}: {duplicated} duplicated, {lost} lost of {expected}"


def assert_written_once(outcomes: list[Outcome], written: Counter) -> None:
    """Every write the gateway accepted is in the register, and nothing is there twice."""
    accepted = {o.tag for o in outcomes if o.status == 201}
    assert accepted <= set(written), f"accepted but missing: {sorted(accepted - set(written))[:5]}"
    assert [tag for tag, times in written.items() if times > 1] == []


# -- 1. the notify consumer killed mid-burst --------------------------------------------------------


def test_a_burst_of_500_grades_with_the_notify_consumer_killed_gives_each_parent_one_sms_per_grade(cluster, school, sms_provider, report):
    began = time.monotonic()
    families = school.families(10)

    def kill_and_restart():
        cluster.kill("notify-consumer")
        time.sleep(3)
        cluster.start("notify-consumer")

    outcomes = grade_burst(school, families, 500, "burst", rate=25, faults=[(0.4, kill_and_restart)])
    assert Counter(o.status for o in outcomes) == {201: 500}
    assert_written_once(outcomes, register(school, families, "burst"))
    record(report, "1. notify consumer SIGKILL", "500 grades at 25/s, 10 parents", "SIGKILL notify-consumer at 40 %, restart after 3 s",
           account_sms(sms_provider, school, families, "burst"), began)


# -- 2. the broker stopped for 20 seconds ------------------------------------------------------------


def test_rabbitmq_stopped_for_20_seconds_mid_burst_fails_no_write_and_loses_no_alert(cluster, school, sms_provider, report):
    began = time.monotonic()
    families = school.families(10)
    ready_during_outage = []

    def broker_outage():
        rabbitmqctl("stop_app")
        try:
            time.sleep(10)
            ready_during_outage.append(requests.get(f"{school.system.url}/readyz", timeout=30).status_code)
            time.sleep(10)
        finally:
            rabbitmqctl("start_app")

    outcomes = grade_burst(school, families, 500, "broker", rate=20, faults=[(0.2, broker_outage)])
    assert Counter(o.status for o in outcomes) == {201: 500}  # writes go to the outbox, not the broker
    assert ready_during_outage == [200]  # servers stay in the load balancer while the broker is away
    assert_written_once(outcomes, register(school, families, "broker"))
    record(report, "2. RabbitMQ stopped", "500 grades at 20/s, 10 parents", "rabbitmqctl stop_app for 20 s at 20 %",
           account_sms(sms_provider, school, families, "broker"), began)


# -- 3. a service's database cut off ------------------------------------------------------------------


def test_a_service_cut_off_from_its_database_answers_503_in_time_and_recovers_on_its_own(cluster, school, sms_provider, report):
    began = time.monotonic()
    [family] = school.families(1)
    system = school.system
    database = system.env["GRADEBOOK_DATABASE_URL"].rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    parent, teacher = system.headers(family.parent), system.headers(school.teacher)
    grade = {"student_id": family.student.id, "subject_id": school.subject_id, "value": "4"}
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false'))
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": database})
        read = api(system, "GET", f"/students/{family.student.id}/grades", parent)  # the client's 30 s would catch a hang
        assert read.status_code == 503 and read.json()["code"] == "unavailable", read.text
        write = api(system, "POST", "/grades", teacher, json={**grade, "comment": "cut-0"})
        assert write.status_code == 503 and write.headers["Content-Type"].startswith("application/problem+json")
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
    assert settle(lambda: api(system, "GET", f"/students/{family.student.id}/grades", parent).status_code == 200, 60), "gradebook did not recover"
    after = api(system, "POST", "/grades", teacher, json={**grade, "comment": "cut-1"})
    assert after.status_code == 201, after.text
    assert register(school, [family], "cut") == {"cut-1": 1}  # the refused write changed nothing
    record(report, "3. database cut off", "reads and writes during the outage, one write after", "gradebook's database refusing connections, backends terminated",
           account_sms(sms_provider, school, [family], "cut"), began)


# -- 4. a gRPC server killed mid-request ------------------------------------------------------------


def test_a_grpc_server_killed_mid_request_gets_503_never_a_double_write(cluster, school, sms_provider, report):
    began = time.monotonic()
    families = school.families(3)
    system = school.system
    stop = threading.Event()
    reads: Counter = Counter()

    def reader(family: Family):
        headers = system.headers(family.parent)
        while not stop.is_set():
            try:
                reads[api(system, "GET", f"/students/{family.student.id}/grades", headers).status_code] += 1
            except requests.RequestException:
                reads[None] += 1

    readers = [threading.Thread(target=reader, args=(f,)) for f in families]
    for thread in readers:
        thread.start()
    try:
        outcomes = grade_burst(school, families, 120, "grpc", rate=20, faults=[(0.3, lambda: cluster.restart("gradebook"))])
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert set(Counter(o.status for o in outcomes)) <= {201, 503}, Counter(o.status for o in outcomes)
    assert set(reads) <= {200, 503} and reads[200] > 0, reads
    written = register(school, families, "grpc")
    assert_written_once(outcomes, written)
    record(report, "4. gRPC server SIGKILL", f"120 grades at 20/s + {sum(reads.values())} reads", "SIGKILL gradebook mid-request, restarted at once",
           account_sms(sms_provider, school, families, "grpc"), began)


# -- 5. a PayU notification storm -------------------------------------------------------------------


def signed(system, body: bytes) -> dict:
    signature = hashlib.md5(body + system.env["PAYU_SECOND_KEY"].encode()).hexdigest()
    return {"Content-Type": "application/json", "OpenPayu-Signature": f"sender=checkout;signature={signature};algorithm=MD5;content=DOCUMENT"}


def test_a_payu_notification_storm_settles_once(cluster, school, sms_provider, report):
    began = time.monotonic()
    system = school.system
    [family] = school.families(1, events=("access_extended",))
    parent = system.headers(family.parent)
    order = api(system, "POST", "/billing/orders", parent, json={"product": "extended_access", "student_id": family.student.id, "channel": "payu"}).json()
    payu_order_id = order["redirect_url"].rsplit("/", 1)[1]

    def body(status: str) -> bytes:
        return json.dumps({"order": {"orderId": payu_order_id, "extOrderId": order["id"], "totalAmount": "2200", "currencyCode": "PLN", "status": status}}).encode()

    storm = [body("COMPLETED")] * 50 + [body("PENDING")] * 20
    random.shuffle(storm)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = Counter(pool.map(lambda b: requests.post(f"{system.url}/api/v1/billing/payu/notify", data=b, headers=signed(system, b), timeout=30).status_code, storm))
    assert codes == {200: 70}
    thanks = lambda: [m for m in sms_provider.to(family.phone) if "Dostep rozszerzony" in m["message"]]  # noqa: E731
    settle(lambda: thanks(), 60)
    time.sleep(3)
    summary = api(system, "GET", "/billing/reports/summary", system.headers(school.secretary)).json()
    payments = sum(1 for entry in summary["ledger"] if entry["order_id"] == order["id"] and entry["kind"] == "payment")
    engine = create_engine(system.env["BILLING_DATABASE_URL"])
    with engine.connect() as connection:
        payloads = connection.execute(text("SELECT payload FROM outbox WHERE routing_key = 'billing.payment_settled.v1'")).scalars().all()
    engine.dispose()
    settled = sum(1 for p in payloads if billing_events.PaymentSettled.FromString(p).order_id == order["id"])
    me = api(system, "GET", "/me", parent).json()["children"][0]
    assert me["access"]["tier"] == "extended"
    counted = {"settlement": payments, "PaymentSettled": settled, "extension SMS": len(thanks())}
    numbers = (3, sum(min(1, n) for n in counted.values()), sum(max(0, n - 1) for n in counted.values()), sum(1 for n in counted.values() if n == 0))
    record(report, "5. PayU notification storm", "50 COMPLETED + 20 PENDING, 8 parallel clients", "the same notification 50 times, shuffled",
           numbers, began)


# -- 6. the SMS provider failing -------------------------------------------------------------------


def test_the_sms_provider_failing_for_a_while_delays_alerts_and_a_refusal_is_dead_lettered_visibly(cluster, school, sms_provider, report):
    began = time.monotonic()
    system = school.system
    families = school.families(5)
    [refused] = school.families(1)
    sms_provider.refused_numbers.add(refused.phone.lstrip("+"))
    before = sms_provider.requests
    sms_provider.outage = 500
    try:
        outcomes = grade_burst(school, families + [refused], 30, "provider", rate=10)
        assert Counter(o.status for o in outcomes) == {201: 30}
        assert settle(lambda: sms_provider.requests > before + 5, 30), "notify never tried the provider"
        assert received_sms(sms_provider, families) == {f.phone: 0 for f in families}
        time.sleep(5)
    finally:
        sms_provider.outage = None
    numbers = account_sms(sms_provider, school, families, "provider", timeout=120)
    assert received_sms(sms_provider, [refused]) == {refused.phone: 0}
    log = api(system, "GET", "/notify/sms-log", system.headers(school.secretary)).json()
    failed = [item for item in log["items"] if item["phone"] == refused.phone]
    assert len(failed) == 5 and {item["status"] for item in failed} == {"failed"}  # dead letters the secretary sees
    metrics = requests.get(system.metrics_url("notify-consumer"), timeout=10).text
    assert 'sms_failed_total{provider="smsapi",reason="refused"} 5.0' in metrics
    record(report, "6. SMS provider failing", "30 grades at 10/s, 6 parents (one number refused)", "HTTP 500 for 5+ s, then recovery; error 13 for one number",
           numbers, began)


# -- 7. a poison event ----------------------------------------------------------------------------


def queue_depth(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_a_poison_event_is_dead_lettered_and_the_consumer_keeps_consuming(cluster, school, sms_provider, report):
    began = time.monotonic()
    system = school.system
    [family] = school.families(1)
    dead_before = queue_depth(system.env["AMQP_URL"], "notify.sms_alerts.dead")
    system.publish(GRADE_RECORDED, _Raw(b"\xff\xfe not a protobuf \x00"), message_id=str(uuid.uuid4()))
    assert settle(lambda: queue_depth(system.env["AMQP_URL"], "notify.sms_alerts.dead") == dead_before + 1, 60), "not dead-lettered"
    teacher = system.headers(school.teacher)
    assert api(system, "POST", "/grades", teacher, json={"student_id": family.student.id, "subject_id": school.subject_id, "value": "5", "comment": "poison-0"}).status_code == 201
    record(report, "7. poison event", "1 undecodable event, then 1 grade", "payload that is not a GradeRecorded",
           account_sms(sms_provider, school, [family], "poison"), began)


class _Raw:
    """A payload that is not a protobuf message at all."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializeToString(self) -> bytes:  # noqa: N802 - the protobuf method name System.publish calls
        return self.data


# -- 8. SIGTERM to every process under load ------------------------------------------------------------


def test_sigterm_to_every_process_under_load_loses_nothing_and_a_restart_resumes(cluster, school, sms_provider, report):
    began = time.monotonic()
    system = school.system
    families = school.families(5)
    ours = [name for name in cluster.processes if name != "payu-simulator"]  # the simulator stands in for PayU
    codes: dict = {}

    def stop_everything():
        codes.update(cluster.stop(ours, timeout=30))

    outcomes = grade_burst(school, families, 150, "sigterm", rate=15, faults=[(0.4, stop_everything)])
    assert codes == {name: 0 for name in ours}, f"not a clean stop: {codes}"
    answered = Counter(o.status for o in outcomes)
    assert set(answered) <= {201, 503, None}, answered  # after the stop: refused connections, never a 500
    cluster.start(*ours)
    wait_ready(system, cluster.alive, timeout=120)
    written = register(school, families, "sigterm")
    assert_written_once(outcomes, written)
    record(report, "8. SIGTERM to every process", f"150 grades at 15/s ({answered[201]} accepted before the stop)", "SIGTERM to all processes at 40 %, then a restart",
           account_sms(sms_provider, school, families, "sigterm"), began)


# -- 9. duplicate delivery at the broker ---------------------------------------------------------------


def test_the_same_message_delivered_twice_sends_one_sms(cluster, school, sms_provider, report):
    began = time.monotonic()
    system = school.system
    [family] = school.families(1)
    context = gradebook_events.GradeContext(school_id=school.school_id, student_id=family.student.id, student_first_name="Ala", student_last_name="Dubel", subject_name="Matematyka")
    event = gradebook_events.GradeRecorded(grade_id=str(uuid.uuid4()), student_id=family.student.id, subject_name="Matematyka", value="3", context=context)
    message_id = str(uuid.uuid4())
    system.publish(GRADE_RECORDED, event, message_id=message_id)
    system.publish(GRADE_RECORDED, event, message_id=message_id)
    settle(lambda: received_sms(sms_provider, [family])[family.phone] >= 1, 60)
    time.sleep(3)
    numbers = (1, *count({family.phone: 1}, received_sms(sms_provider, [family])))
    record(report, "9. duplicate delivery", "1 event published twice with one message id", "the broker delivering a message twice", numbers, began)
