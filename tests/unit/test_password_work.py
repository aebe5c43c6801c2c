"""services/identity/credentials.py: argon2id runs at most as many at once as there are cores."""
from __future__ import annotations

import threading
import time

import pytest

from platform_kit.config import ConfigError, load_settings
from services.identity import credentials
from services.identity.service import DEFINITION, IdentitySettings, sessions


class CountingHasher:
    """argon2's PasswordHasher as far as credentials uses it, counting how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def _work(self) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1

    def hash(self, password: str) -> str:
        self._work()
        return f"hashed:{password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self._work()
        if password_hash != f"hashed:{password}":
            raise credentials.VerificationError("no")
        return True


@pytest.fixture
def hasher(monkeypatch):
    counting = CountingHasher()
    monkeypatch.setattr(credentials, "PASSWORDS", counting)
    monkeypatch.setattr(credentials, "ARGON2", credentials.PasswordWork(2))
    credentials._dummy_hash.cache_clear()
    yield counting
    credentials._dummy_hash.cache_clear()


def test_no_more_checks_run_at_once_than_the_limit_and_each_answers_rightly(hasher):
    stored = credentials.hash_password("Wiosna-2026")
    answers: dict[int, bool] = {}

    def sign_in(n: int) -> None:
        answers[n] = credentials.verify_password(stored, "Wiosna-2026" if n % 2 else "zle-haslo")

    threads = [threading.Thread(target=sign_in, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not any(thread.is_alive() for thread in threads)
    assert hasher.most == 2
    assert answers == {n: bool(n % 2) for n in range(8)}


def test_a_wrong_password_frees_its_slot_and_marks_the_memory_used(hasher):
    stored = credentials.hash_password("Wiosna-2026")
    answers: list[bool] = []
    # More failures than slots: had a failure kept its slot, the third would wait for ever.
    signing_in = threading.Thread(target=lambda: answers.extend(credentials.verify_password(stored, "zle-haslo") for _ in range(5)), daemon=True)
    signing_in.start()
    signing_in.join(timeout=10)

    assert not signing_in.is_alive() and answers == [False] * 5
    assert credentials.ARGON2.memory._last_touched is not None


def test_the_limit_comes_from_the_setting_or_the_cores(monkeypatch, tmp_path):
    assert credentials.PasswordWork(3).at_once == 3
    assert credentials.available_cores() >= 1
    monkeypatch.setenv("IDENTITY_PASSWORD_CHECKS_AT_ONCE", "0")
    with pytest.raises(ConfigError, match="IDENTITY_PASSWORD_CHECKS_AT_ONCE"):
        load_settings(IdentitySettings)

    monkeypatch.setenv("IDENTITY_PASSWORD_CHECKS_AT_ONCE", "3")
    monkeypatch.setattr(credentials, "ARGON2", credentials.ARGON2)  # restored after the test
    sessions(DEFINITION.runtime(var_dir=tmp_path))
    assert credentials.ARGON2.at_once == 3
