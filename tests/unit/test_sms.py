"""SMS texts (DOMAIN.md, "SMS"): GSM-7 vs UCS-2 parts, transliteration, and the fake provider."""
from __future__ import annotations

import json

import pytest

from services.notify.providers.fake import FakeSmsProvider
from services.notify.texts import measure, render, transliterate

# -- rendering ---------------------------------------------------------------------------------


def test_grade_alert_is_transliterated_to_one_gsm7_part():
    text = render("grade_recorded", student="Zosia Kowalska", value="4+", subject="Język polski")

    assert text.body == "Dziennik: Zosia Kowalska otrzymal(a) ocene 4+ z przedmiotu Jezyk polski."
    assert text.body.isascii()
    assert text.encoding == "GSM-7"
    assert text.parts == 1


def test_grade_alert_names_the_child():
    text = render("grade_recorded", student="Łucja Żółć", value="np", subject="Fizyka")

    assert "Lucja Zolc" in text.body
    assert text.encoding == "GSM-7"


def test_polish_characters_kept_on_request_cost_ucs2():
    text = render("grade_recorded", polish_characters=True, student="Zosia Kowalska", value="4+", subject="Język polski")

    assert "ę" in text.body
    assert text.encoding == "UCS-2"
    assert text.parts == 2  # 73 characters: more than 70 in UCS-2, one part in GSM-7


def test_transliterate_every_polish_letter():
    assert transliterate("ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ „cudzysłów” – myślnik —") == 'acelnoszz ACELNOSZZ "cudzyslow" - myslnik -'


def test_unknown_template_is_an_error():
    with pytest.raises(KeyError):
        render("no_such_alert", student="x")


# -- counting parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_parts(length, parts):
    text = measure("a" * length)

    assert text.encoding == "GSM-7"
    assert text.parts == parts


@pytest.mark.parametrize("extension", ["€", "[", "]", "{", "}", "~", "^", "|", "\\"])
def test_extension_characters_count_double(extension):
    assert measure(extension * 80).parts == 1  # 160 septets
    assert measure(extension * 80 + "a").parts == 2  # 161 septets
    assert measure("a" * 159 + extension).parts == 2
    assert measure(extension * 80).encoding == "GSM-7"


@pytest.mark.parametrize("letter", ["ą", "ć", "ę", "ł", "ń", "ó", "ś", "ź", "ż", "Ż"])
def test_one_polish_letter_switches_to_ucs2(letter):
    text = measure("a" * 69 + letter)
    assert text.encoding == "UCS-2"
    assert text.parts == 1
    assert measure("a" * 70 + letter).parts == 2


@pytest.mark.parametrize(
    ("length", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_parts(length, parts):
    text = measure("ł" * length)

    assert text.encoding == "UCS-2"
    assert text.parts == parts


def test_gsm7_letters_outside_ascii_stay_gsm7():
    assert measure("Ødegård café £5 ¿Ñ? ü à Δ").encoding == "GSM-7"
    assert measure("Ødegård café £5 ¿Ñ? ü à Δ á").encoding == "UCS-2"  # á is not in GSM 03.38


def test_emoji_counts_as_two_ucs2_units():
    assert measure("😀" * 35).parts == 1
    assert measure("😀" * 35 + "a").parts == 2


# -- the fake provider -------------------------------------------------------------------------


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_fake_provider_writes_one_json_line(tmp_path):
    outbox = tmp_path / "var" / "sms-outbox.jsonl"
    provider = FakeSmsProvider(outbox)

    sent = provider.send(idx="sms-1", to="+48600100200", body="Dziennik: Zosia ...", parts=1)

    [line] = _lines(outbox)
    assert line["to"] == "+48600100200"
    assert line["message"] == "Dziennik: Zosia ..."
    assert line["idx"] == "sms-1"
    assert line["parts"] == 1
    assert line["id"] == sent.provider_message_id
    assert line["sent_at"]


def test_fake_provider_sends_an_idx_once(tmp_path):
    outbox = tmp_path / "sms-outbox.jsonl"
    provider = FakeSmsProvider(outbox)

    first = provider.send(idx="sms-1", to="+48600100200", body="one", parts=1)
    again = provider.send(idx="sms-1", to="+48600100200", body="one", parts=1)
    other = provider.send(idx="sms-2", to="+48600100200", body="two", parts=1)

    assert again.provider_message_id == first.provider_message_id
    assert other.provider_message_id != first.provider_message_id
    assert [line["idx"] for line in _lines(outbox)] == ["sms-1", "sms-2"]


def test_fake_provider_remembers_across_instances(tmp_path):
    outbox = tmp_path / "sms-outbox.jsonl"
    first = FakeSmsProvider(outbox).send(idx="sms-1", to="+48600100200", body="one", parts=1)

    again = FakeSmsProvider(outbox).send(idx="sms-1", to="+48600100200", body="one", parts=1)

    assert again == first
    assert len(_lines(outbox)) == 1


def test_fake_provider_keeps_polish_text_readable(tmp_path):
    outbox = tmp_path / "sms-outbox.jsonl"
    FakeSmsProvider(outbox).send(idx="sms-1", to="+48600100200", body="Zażółć", parts=1)

    assert "Zażółć" in outbox.read_text(encoding="utf-8")
