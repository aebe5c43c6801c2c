"""Copies that follow identity's changes (platform_kit/bus/follower.py), with the real parts:
identity's use cases write PeopleChanged to their outbox, the relay publishes it to RabbitMQ, and
a follower like the gateway's drops the copies about the people it names. When the broker drops
the follower's connection, its copies stop living long at once, and come back empty."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from platform_kit.bus.amqp import Publisher
from platform_kit.bus.follower import follow_people_changes
from platform_kit.bus.relay import OutboxRelay
from platform_kit.cache import TtlCache
from platform_kit.db import Database
from platform_kit.migrations import upgrade
from services.identity.administration import SchoolAdministration
from tests.conftest import rabbitmqctl, wait_for
from tests.integration.test_identity_use_cases import OPERATOR, YEAR, school_with_admin

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"


@pytest.fixture
def identity(postgres_databases, amqp_url):
    """identity's database and use cases, with its relay publishing to the test's vhost."""
    database = Database(postgres_databases("identity"))
    upgrade(database, MIGRATIONS)
    stop = threading.Event()
    relay = threading.Thread(target=OutboxRelay(database, Publisher(amqp_url, app_id="identity"), poll_interval=0.05).run, args=(stop,), daemon=True)
    relay.start()
    yield SchoolAdministration(database)
    stop.set()
    relay.join(10)
    database.dispose()


@pytest.fixture
def access_answers(amqp_url):
    """The gateway's copies of identity's access answers, followed like a gateway worker's."""
    cache: TtlCache[bool] = TtlCache("test_follower_access", 10, followed_seconds=600, mentions=lambda key, _yes: key[:2])
    follower = follow_people_changes(amqp_url, "test-gateway", [cache])
    wait_for(lambda: cache.followed, 15, message="the follower to connect")
    yield cache
    follower.stop()


def school(identity: SchoolAdministration) -> dict:
    school_id, admin = school_with_admin(identity, "SP 3")
    class_id = identity.create_class(admin, "1A", YEAR)
    ola = identity.create_user(admin, role="student", first_name="Ola", last_name="Nowak", class_id=class_id).user
    ala = identity.create_user(admin, role="student", first_name="Ala", last_name="Kot", class_id=class_id).user
    mum = identity.create_user(admin, role="parent", first_name="Ewa", last_name="Nowak", children=[ola.id]).user
    dad = identity.create_user(admin, role="parent", first_name="Jan", last_name="Kot", children=[ala.id]).user
    return {"school": school_id, "admin": admin, "ola": ola.id, "ala": ala.id, "mum": mum.id, "dad": dad.id}


def test_a_change_in_identity_drops_the_copies_about_its_people_and_only_those(identity, access_answers):
    s = school(identity)
    # The school's own creation names Ola and Ala (a parent each) in events that may still be on
    # their way; a copy about mum alone can only go with the link's event, which comes after them.
    access_answers.put((s["mum"], "another-child", "grades"), True)
    access_answers.put((s["dad"], s["ala"], "grades"), True)
    access_answers.put(("someone", "unrelated", "grades"), True)

    identity.link_parent(s["admin"], s["mum"], s["ala"])  # names mum and Ala (a parent more)

    wait_for(lambda: access_answers.get((s["mum"], "another-child", "grades")) is None, 10, message="mum's copy to be dropped")
    assert access_answers.get((s["dad"], s["ala"], "grades")) is None  # about Ala: the same event
    assert access_answers.get(("someone", "unrelated", "grades")) is True  # about nobody named: kept
    identity.set_access_policy(OPERATOR, s["school"], "statutory")  # the school's policy: every copy goes
    wait_for(lambda: access_answers.get(("someone", "unrelated", "grades")) is None, 10, message="every copy to be dropped")


def test_a_follower_that_loses_the_broker_stops_trusting_old_copies_and_comes_back_empty(identity, access_answers, amqp_url):
    access_answers.put(("mum", "ola", "grades"), True)
    vhost = amqp_url.rsplit("/", 1)[1]

    rabbitmqctl("close_all_connections", "-p", vhost, "test: the broker restarts")

    wait_for(lambda: not access_answers.followed, 10, message="the follower to notice")
    wait_for(lambda: access_answers.followed, 15, message="the follower to reconnect")
    assert access_answers.get(("mum", "ola", "grades")) is None  # a change may have been missed meanwhile
    s = school(identity)  # and it follows again (a copy about dad alone goes only with the link's event)
    access_answers.put((s["dad"], "another-child", "grades"), True)
    identity.link_parent(s["admin"], s["dad"], s["ola"])
    wait_for(lambda: access_answers.get((s["dad"], "another-child", "grades")) is None, 10, message="the copy to be dropped after reconnecting")
