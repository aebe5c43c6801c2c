"""Billing rules: PayU's signature (DOMAIN.md's test vectors), TRANSACTION numbers, transfer
titles that fit a slip and the QR code, the order's state machine."""
from __future__ import annotations

import pytest

from platform_kit.errors import Conflict
from services.billing import money


@pytest.mark.parametrize(
    ("body", "key", "algorithm", "expected"),
    [
        (b"OpenPayUData", "SignatureKey", "MD5", "8375034eb737d520c829fad4026a38aa"),
        (b"OpenPayUData", "SignatureKey", "SHA-256", "8b2fd55b48f150347df56ce18d787335f32ced1d67f214016476f7c0a8f09981"),
        (b'{"order": {"status": "COMPLETED"}}', "123abc", "MD5", "a12fbd21c48e69bedee18edf042b816c"),
    ],
)
def test_payu_signature_test_vectors(body, key, algorithm, expected):
    assert money.payu_signature(body, key, algorithm) == expected
    header = f"sender=checkout;signature={expected};algorithm={algorithm};content=DOCUMENT"
    assert money.verify_payu_signature(body, header, key)
    assert not money.verify_payu_signature(body + b" ", header, key)  # one byte changed
    assert not money.verify_payu_signature(body, header, key + "x")  # another shop's key
    assert not money.verify_payu_signature(body, header.replace(algorithm, "CRC32"), key)
    assert not money.verify_payu_signature(body, "", key)


def test_a_transaction_number_is_fixed_width_and_its_check_digit_catches_typos():
    numbers = {money.new_transaction_number() for _ in range(200)}
    assert len(numbers) == 200 and all(len(n) == 11 and n.startswith("DZ") and money.is_valid_transaction_number(n) for n in numbers)
    number = "DZ12345678" + money.luhn_digit("12345678")
    assert money.is_valid_transaction_number(number)
    for position in range(2, 10):  # any single wrong digit
        wrong = number[:position] + str((int(number[position]) + 1) % 10) + number[position + 1:]
        assert not money.is_valid_transaction_number(wrong)
    swapped = number[:3] + number[4] + number[3] + number[5:]  # neighbours swapped
    assert not money.is_valid_transaction_number(swapped)


def test_numbers_are_found_in_a_bank_title_with_spaces_and_typos_are_not():
    good = "DZ12345678" + money.luhn_digit("12345678")
    title = f"TYT.: {good[:2]} {good[2:6]} {good[6:]} ZOFIA KOWALSKA; DZ00000001"
    assert money.find_transaction_numbers(title) == [good]


@pytest.mark.parametrize("last_name", ["Nowak", "Żółkiewska", "Brzęczyszczykiewicz-Grzegorzewska"])
def test_the_transfer_title_fits_the_qr_code_and_the_slip_and_starts_with_the_number(last_name):
    number = money.new_transaction_number()
    title = money.transfer_title(number, "Zofia", last_name)
    assert title.startswith(number) and len(title) <= money.QR_TITLE and title.isascii()
    rows = money.slip_rows(title)
    assert all(len(row) <= money.SLIP_ROW for row in rows) and len(rows) <= 2
    assert " ".join(rows) == title
    if last_name == "Żółkiewska":
        assert title == f"{number} ZOFIA ZOLKIEWSKA"


def test_an_order_moves_only_forward():
    assert money.next_status(money.PENDING, money.PAID) == money.PAID
    assert money.next_status(money.PAID, money.REFUNDED) == money.REFUNDED
    for current, wanted in ((money.PAID, money.PAID), (money.CANCELLED, money.PAID), (money.PENDING, money.REFUNDED), (money.REFUNDED, money.PAID)):
        with pytest.raises(Conflict):
            money.next_status(current, wanted)


def test_the_zbp_payment_code_carries_account_amount_recipient_and_title():
    from services.billing.documents import zbp_payment_code

    code = zbp_payment_code("PL61 1090 1014 0000 0712 1981 2874", 2200, "Szkoła Podstawowa nr 1 w Dziennikowie", "DZ123456782 ZOFIA ZOLKIEWSKA")
    nip, country, account, amount, recipient, title, *reserved = code.split("|")
    assert (nip, country, account, amount) == ("", "PL", "61109010140000071219812874", "002200")
    assert recipient == "SZKOLA PODSTAWOWA NR" and len(recipient) <= 20
    assert title == "DZ123456782 ZOFIA ZOLKIEWSKA" and reserved == ["", "", ""]
    with pytest.raises(ValueError):
        zbp_payment_code("PL61 1090", 2200, "x", "y")
