"""The password-strength helper process (services/identity/guessing.py): same answers as zxcvbn
in this process, started on demand, gone when idle, replaced when it dies, and never in the way of
an answer."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.identity.guessing import ROOT, GuessEstimator, estimate_here
from tests.conftest import wait_for

PASSWORDS = [
    ("Wrzesniewska#1985", ("bogumila", "wrzesniewska")),
    ("ptaszek-na-zielonym-rowerze", ()),
    ("kV7#mQ2$wZ", ()),
    ("haslo123", ()),
]


@pytest.fixture
def estimator():
    made = []

    def make(**kwargs) -> GuessEstimator:
        made.append(GuessEstimator(**kwargs))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_the_helper_answers_what_zxcvbn_answers_here_and_serves_every_check_while_they_come(estimator):
    guesses = estimator()
    for password, personal in PASSWORDS:
        assert guesses.guesses_log10(password, personal) == pytest.approx(estimate_here(password, personal))
    assert guesses.helpers_started == 1
    assert guesses.running


def test_the_helper_exits_once_idle_and_the_next_check_starts_another(estimator):
    guesses = estimator(idle_seconds=0.3)
    first = guesses.guesses_log10("ptaszek-na-zielonym-rowerze")
    wait_for(lambda: not guesses.running, timeout=10, interval=0.05, message="the idle helper to exit")
    assert guesses.guesses_log10("ptaszek-na-zielonym-rowerze") == first
    assert guesses.helpers_started == 2


def test_a_helper_that_died_between_checks_is_replaced(estimator):
    guesses = estimator()
    guesses.guesses_log10("kV7#mQ2$wZ")
    guesses._process.kill()
    guesses._process.wait()
    assert guesses.guesses_log10("haslo123") == pytest.approx(estimate_here("haslo123", ()))
    assert guesses.helpers_started == 2


@pytest.mark.parametrize("command", [
    [sys.executable, "-c", "import sys; sys.exit(3)"],  # exits at once
    [sys.executable, "-c", "import sys, time; sys.stdin.readline(); time.sleep(30)"],  # never answers
    [sys.executable, "-c", "import sys; sys.stdin.readline(); print('nonsense', flush=True); sys.stdin.readline()"],
    ["/nonexistent/python"],  # cannot be started
])
def test_when_no_helper_answers_the_check_is_made_here(estimator, command):
    guesses = estimator(command=command, answer_seconds=0.5)
    assert guesses.guesses_log10("haslo123") == pytest.approx(estimate_here("haslo123", ()))
    assert not guesses.running


def test_checks_from_many_threads_take_turns_and_each_gets_its_own_answer(estimator):
    guesses = estimator()
    work = PASSWORDS * 5
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda item: guesses.guesses_log10(*item), work))
    assert answers == pytest.approx([estimate_here(*item) for item in work])
    assert guesses.helpers_started == 1


def test_checking_a_password_keeps_the_word_lists_out_of_the_process_that_asked():
    program = (
        "import sys\n"
        "from platform_kit.errors import InvalidArgument\n"
        "from services.identity.people import check_password\n"
        "check_password('ptaszek-na-zielonym-rowerze')\n"
        "try:\n"
        "    check_password('haslo123')\n"
        "except InvalidArgument as exc:\n"
        "    print('refused', exc.code)\n"
        "print(sorted(m for m in sys.modules if m.startswith('zxcvbn')))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["refused weak_password", "[]"]
