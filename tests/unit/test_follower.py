"""What a follower of identity's changes does with each message (platform_kit/bus/follower.py);
the connection itself is tested against RabbitMQ in tests/integration/test_change_follower.py."""
from __future__ import annotations

from types import SimpleNamespace

from dziennik.identity.v1.events_pb2 import PeopleChanged
from platform_kit.bus.follower import PEOPLE_CHANGED_KEY, ChangeFollower, dropping_people
from platform_kit.cache import TtlCache

NO_BROKER = "amqp://guest:guest@127.0.0.1:1/%2F"


def followed() -> TtlCache[bool]:
    cache: TtlCache[bool] = TtlCache("test_follower_unit", 10, followed_seconds=600, mentions=lambda key, _yes: key[:2])
    cache.follow(True)
    cache.put(("mum", "ola", "grades"), True)
    cache.put(("dad", "ala", "grades"), True)
    return cache


def deliver(follower: ChangeFollower | TtlCache, body: bytes, routing_key: str = PEOPLE_CHANGED_KEY) -> None:
    """Hand `body` to a follower's message handler as pika would (not started: no broker); a
    cache alone gets a follower of identity's changes."""
    if isinstance(follower, TtlCache):
        follower = ChangeFollower(NO_BROKER, "test", {PEOPLE_CHANGED_KEY: dropping_people([follower])}, [follower])
    follower._on_message(None, SimpleNamespace(routing_key=routing_key), None, body)


def test_people_named_lose_their_copies_and_a_school_wide_change_clears_everything():
    cache = followed()
    deliver(cache, PeopleChanged(user_ids=["ola"]).SerializeToString())
    assert cache.get(("mum", "ola", "grades")) is None and cache.get(("dad", "ala", "grades")) is True

    deliver(cache, PeopleChanged(whole_school_id="school-1").SerializeToString())
    assert cache.get(("dad", "ala", "grades")) is None


def test_a_message_it_cannot_read_drops_every_copy_rather_than_guess():
    cache = followed()
    deliver(cache, b"\xff\xff not a protobuf")
    assert cache.get(("mum", "ola", "grades")) is None and cache.get(("dad", "ala", "grades")) is None


def test_a_follower_with_nothing_followed_starts_no_thread():
    short_lived: TtlCache[bool] = TtlCache("test_follower_short", 10)  # no followed_seconds
    follower = ChangeFollower(NO_BROKER, "test", {PEOPLE_CHANGED_KEY: lambda body: None}, [short_lived]).start()
    assert not follower._thread.is_alive()


def test_each_routing_key_goes_to_its_own_function_and_a_stranger_drops_everything():
    seen = []
    cache = followed()
    follower = ChangeFollower(NO_BROKER, "test", {"a.changed.v1": lambda body: seen.append(("a", body)), "b.changed.v1": lambda body: seen.append(("b", body))}, [cache])
    deliver(follower, b"1", "b.changed.v1")
    deliver(follower, b"2", "a.changed.v1")
    assert seen == [("b", b"1"), ("a", b"2")] and cache.get(("mum", "ola", "grades")) is True
    deliver(follower, b"3", "c.changed.v1")  # bound to nothing it knows: it cannot tell what changed
    assert cache.get(("mum", "ola", "grades")) is None
