"""Billing end to end: the offer, a PayU payment through the simulator ending in extended
access, PayU notification storms and forgeries, transfer details, cash at school."""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from pypdf import PdfReader

from tests.conftest import wait_for
from tests.system import api

pytestmark = pytest.mark.e2e

PASSWORD = "Platnosci-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def family(system):
    """A brochure-policy school (grades need extended access) with two families."""
    seeder = system.seeder()
    operator = seeder.sign_in(system.operator)
    school_id = seeder.school(operator, f"Szkoła płatna {uuid.uuid4().hex[:6]}", policy="brochure")
    secretary = seeder.person(operator, school_id, "school_admin", "Kasia", "Kasjerka", PASSWORD)
    office = seeder.sign_in(secretary)
    class_id = seeder.school_class(office, school_id, "5C", "2026/2027")
    child = seeder.person(office, school_id, "student", "Zofia", "Żółkiewska", PASSWORD, class_id=class_id)
    parent = seeder.person(office, school_id, "parent", "Anna", "Żółkiewska", PASSWORD, children=(child,))
    other_child = seeder.person(office, school_id, "student", "Olek", "Obcy", PASSWORD, class_id=class_id)
    other_parent = seeder.person(office, school_id, "parent", "Olga", "Obca", PASSWORD, children=(other_child,))
    return {
        "child": child, "other_child": other_child, "parent": system.headers(parent), "other_parent": system.headers(other_parent),
        "secretary": system.headers(secretary), "child_headers": system.headers(child),
    }


def test_the_offer_lists_extended_access_for_22_zl_and_the_channels(system, family):
    offer = api(system, "GET", "/billing/offer", family["parent"]).json()
    extended = next(p for p in offer["products"] if p["code"] == "extended_access")
    assert extended == {"code": "extended_access", "price": {"amount": 2200, "currency": "PLN"}, "period_months": 12}
    assert set(offer["channels"]) == {"payu", "bank_transfer", "postal", "cash"}
    sms = next(p for p in offer["products"] if p["code"] == "sms_alerts")
    assert api(system, "PUT", "/billing/products/sms_alerts", family["parent"], json={"price": {"amount": 999, "currency": "PLN"}, "period_months": 12}).status_code == 403
    bad = api(system, "PUT", "/billing/products/sms_alerts", family["secretary"], json={"price": {"amount": 5, "currency": "PLN"}, "period_months": 12})
    assert bad.status_code == 400 and "price" in bad.json()["errors"]
    changed = api(system, "PUT", "/billing/products/sms_alerts", family["secretary"], json={"price": {"amount": 1300, "currency": "PLN"}, "period_months": 6})
    assert changed.status_code == 200
    order = api(system, "POST", "/billing/orders", family["parent"], json={"product": "sms_alerts", "student_id": family["child"].id, "channel": "cash"}).json()
    assert order["amount"] == {"amount": 1300, "currency": "PLN"}
    restored = api(system, "PUT", "/billing/products/sms_alerts", family["secretary"], json={"price": sms["price"], "period_months": 12})
    assert restored.json() == sms  # later tests rely on 12 zł


def test_a_payu_payment_through_the_simulator_gives_the_family_extended_access(system, family):
    child = family["child"]
    assert api(system, "GET", f"/students/{child.id}/grades", family["parent"]).status_code == 402
    order = api(system, "POST", "/billing/orders", family["parent"], json={"product": "extended_access", "student_id": child.id, "channel": "payu"})
    assert order.status_code == 201, order.text
    order = order.json()
    assert order["status"] == "pending" and order["amount"] == {"amount": 2200, "currency": "PLN"} and order["redirect_url"]
    page = requests.get(order["redirect_url"], timeout=10)
    assert page.status_code == 200 and "Zapłać" in page.text and "22.00 zł" in page.text
    paid = requests.post(order["redirect_url"], data={"action": "pay"}, allow_redirects=False, timeout=10)
    assert paid.status_code == 302 and order["id"] in paid.headers["Location"]  # back to continueUrl

    wait_for(lambda: api(system, "GET", f"/billing/orders/{order['id']}", family["parent"]).json()["status"] == "paid", timeout=60, message="the order paid")
    wait_for(lambda: api(system, "GET", f"/students/{child.id}/grades", family["parent"]).status_code == 200, timeout=30, message="extended access")
    assert api(system, "GET", f"/students/{child.id}/grades", family["child_headers"]).status_code == 200  # the student's own account too
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date()
    me = api(system, "GET", "/me", family["parent"]).json()
    assert me["children"][0]["access"] == {"tier": "extended", "valid_until": (today.replace(year=today.year + 1) - timedelta(days=1)).isoformat()}


def signed(system, body: bytes, key: str | None = None) -> dict:
    signature = hashlib.md5(body + (key or system.env["PAYU_SECOND_KEY"]).encode()).hexdigest()
    return {"Content-Type": "application/json", "OpenPayu-Signature": f"sender=checkout;signature={signature};algorithm=MD5;content=DOCUMENT"}


def test_a_notification_storm_settles_once_and_forgeries_change_nothing(system, family):
    child = family["other_child"]
    order = api(system, "POST", "/billing/orders", family["other_parent"], json={"product": "extended_access", "student_id": child.id, "channel": "payu"}).json()
    payu_order_id = order["redirect_url"].rsplit("/", 1)[1]

    def body(status: str, amount: str = "2200") -> bytes:
        return json.dumps({"order": {"orderId": payu_order_id, "extOrderId": order["id"], "totalAmount": amount, "currencyCode": "PLN", "status": status}}).encode()

    forged = requests.post(f"{system.url}/api/v1/billing/payu/notify", data=body("COMPLETED"), headers=signed(system, body("COMPLETED"), key="not-the-key"), timeout=10)
    assert forged.status_code == 401
    assert api(system, "GET", f"/billing/orders/{order['id']}", family["other_parent"]).json()["status"] == "pending"
    wrong_amount = body("COMPLETED", "1")
    assert requests.post(f"{system.url}/api/v1/billing/payu/notify", data=wrong_amount, headers=signed(system, wrong_amount), timeout=10).status_code == 200
    assert api(system, "GET", f"/billing/orders/{order['id']}", family["other_parent"]).json()["status"] == "pending"

    # The parent pays on PayU's page (the simulator notifies too), while PayU's retries storm in:
    # the same COMPLETED 50 times shuffled with PENDING, from parallel clients.
    assert requests.post(order["redirect_url"], data={"action": "pay"}, allow_redirects=False, timeout=10).status_code == 302
    storm = [body("COMPLETED")] * 50 + [body("PENDING")] * 10
    import random

    random.shuffle(storm)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda b: requests.post(f"{system.url}/api/v1/billing/payu/notify", data=b, headers=signed(system, b), timeout=30).status_code, storm))
    assert set(codes) == {200}
    late_cancel = body("CANCELED")  # after COMPLETED, the rest is ignored
    assert requests.post(f"{system.url}/api/v1/billing/payu/notify", data=late_cancel, headers=signed(system, late_cancel), timeout=10).status_code == 200
    assert api(system, "GET", f"/billing/orders/{order['id']}", family["other_parent"]).json()["status"] == "paid"
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date()
    wait_for(lambda: api(system, "GET", "/me", family["other_parent"]).json()["children"][0]["access"]["tier"] == "extended", timeout=30, message="extension")
    access = api(system, "GET", "/me", family["other_parent"]).json()["children"][0]["access"]
    assert access["valid_until"] == (today.replace(year=today.year + 1) - timedelta(days=1)).isoformat()  # extended once, not 50 times
    report = api(system, "GET", "/billing/reports/summary", family["secretary"]).json()
    assert [l["kind"] for l in report["ledger"] if l["order_id"] == order["id"]] == ["charge", "payment"]  # one settlement

    def grades_answer() -> set[int]:  # several requests: each gateway worker keeps its own copies
        return {api(system, "GET", f"/students/{child.id}/grades", family["other_parent"]).status_code for _ in range(6)}

    assert grades_answer() == {200}  # the workers now keep identity's "yes" (for minutes: they follow its changes)

    # Refunded through PayU's refund API (the simulator's): the access ends.
    refunded = api(system, "POST", f"/billing/orders/{order['id']}/refund", family["secretary"], json={"reason": "Rezygnacja"})
    assert refunded.status_code == 200 and refunded.json()["status"] == "refunded"
    wait_for(lambda: api(system, "GET", "/me", family["other_parent"]).json()["children"][0]["access"]["tier"] == "basic", timeout=30, message="access ended")
    # identity's PeopleChanged dropped the workers' copies: the grades are gone within moments
    wait_for(lambda: grades_answer() == {402}, timeout=5, message="the gateway to stop granting the grades")


def test_a_transfer_order_shows_the_account_and_a_title_that_fits_the_slip(system, family):
    order = api(system, "POST", "/billing/orders", family["parent"], json={"product": "sms_alerts", "student_id": family["child"].id, "channel": "bank_transfer"})
    assert order.status_code == 201
    transfer = order.json()["transfer"]
    number = order.json()["transaction_number"]
    assert transfer["title"] == f"{number} ZOFIA ZOLKIEWSKA" and len(transfer["title"]) <= 32
    assert all(len(row) <= 27 for row in transfer["slip_rows"]) and transfer["account_number"]
    assert api(system, "GET", f"/billing/orders/{order.json()['id']}", family["other_parent"]).status_code == 404
    assert order.json()["id"] not in [o["id"] for o in api(system, "GET", "/billing/orders", family["other_parent"]).json()["items"]]
    assert order.json()["id"] in [o["id"] for o in api(system, "GET", "/billing/orders", family["secretary"]).json()["items"]]
    slip = api(system, "GET", f"/billing/orders/{order.json()['id']}/slip.pdf", family["parent"])
    assert slip.status_code == 200 and slip.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(slip.content)).pages[0].extract_text()
    assert "12,00 zł" in text and number in text and "ZOFIA" in text and "Anna Żółkiewska" in text
    assert api(system, "GET", f"/billing/orders/{order.json()['id']}/receipt.pdf", family["parent"]).status_code == 400


def test_cash_at_school_is_recorded_by_the_secretary_once(system, family):
    order = api(system, "POST", "/billing/orders", family["parent"], json={"product": "sms_alerts", "student_id": family["child"].id, "channel": "cash"}).json()
    short = api(system, "POST", f"/billing/orders/{order['id']}/cash-payment", family["secretary"], json={"amount": {"amount": 1000, "currency": "PLN"}})
    assert short.status_code == 400 and "amount" in short.json()["errors"]
    assert api(system, "POST", f"/billing/orders/{order['id']}/cash-payment", family["parent"], json={"amount": {"amount": 1200, "currency": "PLN"}}).status_code == 403
    paid = api(system, "POST", f"/billing/orders/{order['id']}/cash-payment", family["secretary"], json={"amount": {"amount": 1200, "currency": "PLN"}})
    assert paid.status_code == 200 and paid.json()["status"] == "paid" and paid.json()["paid_at"]
    again = api(system, "POST", f"/billing/orders/{order['id']}/cash-payment", family["secretary"], json={"amount": {"amount": 1200, "currency": "PLN"}})
    assert again.status_code == 409
    receipt = api(system, "GET", f"/billing/orders/{order['id']}/receipt.pdf", family["secretary"])
    assert receipt.status_code == 200
    text = PdfReader(io.BytesIO(receipt.content)).pages[0].extract_text()
    assert order["transaction_number"] in text and "12,00 zł" in text and "Zofia Żółkiewska" in text


def test_orders_only_for_ones_own_child(system, family):
    answer = api(system, "POST", "/billing/orders", family["parent"], json={"product": "extended_access", "student_id": family["other_child"].id, "channel": "payu"})
    assert answer.status_code == 404
    bad = api(system, "POST", "/billing/orders", family["parent"], json={"product": "gold", "student_id": family["child"].id, "channel": "payu"})
    assert bad.status_code == 400 and "product" in bad.json()["errors"]


def mt940(*lines: tuple[str, str, str]) -> bytes:
    """A statement with (amount "22,00", title, counterparty) lines, in Polish banks' :86: layout."""
    body = [":20:WYCIAG", ":25:PL61109010140000071219812874", ":28C:1", ":60F:C261201PLN0,00"]
    for number, (amount, title, counterparty) in enumerate(lines):
        body.append(f":61:2612021202CN{amount}NTRFNONREF//REF{number:04d}")
        body.append(f":86:020~00TRFX~20{title[:35]}~21{title[35:]}~32{counterparty}")
    body.append(":62F:C261202PLN0,00")
    return ("\r\n".join(body) + "\r\n").encode("cp1250")


def test_a_bank_statement_is_matched_once_and_the_rest_waits_for_review(system, family):
    def order(product: str) -> dict:
        answer = api(system, "POST", "/billing/orders", family["parent"], json={"product": product, "student_id": family["child"].id, "channel": "bank_transfer"})
        assert answer.status_code == 201
        return answer.json()

    paid_right, underpaid, later = order("sms_alerts"), order("sms_alerts"), order("sms_alerts")
    number = paid_right["transaction_number"]
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    statement = mt940(
        ("12,00", f"TYT.: {number[:2]} {number[2:6]} {number[6:]} ZOFIA ZOLKIEWSKA", "ANNA ZOLKIEWSKA"),
        ("12,00", "OPLATA ZA DZIENNIK ZOFIA", "ANNA ZOLKIEWSKA"),
        ("10,00", f"{underpaid['transaction_number']} ZOFIA ZOLKIEWSKA", "ANNA ZOLKIEWSKA"),
        ("12,00", f"{typo} ZOFIA ZOLKIEWSKA", "ANNA ZOLKIEWSKA"),
    )
    upload = {**family["secretary"], "Content-Type": "text/plain"}
    assert api(system, "POST", "/billing/statements", {**family["parent"], "Content-Type": "text/plain"}, data=statement).status_code == 403
    report = api(system, "POST", "/billing/statements", upload, data=statement)
    assert report.status_code == 200, report.text
    report = report.json()
    assert [(l["order_id"], l["outcome"]) for l in report["matched"]] == [(paid_right["id"], "matched")]
    outcomes = sorted(l["outcome"] for l in report["unmatched"])
    assert outcomes == ["review:underpaid", "unmatched", "unmatched"] and report["duplicates"] == 0
    assert api(system, "GET", f"/billing/orders/{paid_right['id']}", family["parent"]).json()["status"] == "paid"

    again = api(system, "POST", "/billing/statements", upload, data=statement).json()
    assert again == {"matched": [], "unmatched": [], "duplicates": 4}  # re-imported: nothing paid twice

    csv_export = f"Data operacji;Kwota;Tytuł;Nadawca\n2026-12-03;12,00;Zapłata {later['transaction_number']} Zofia Żółkiewska;Anna Żółkiewska\n".encode("cp1250")
    csv_report = api(system, "POST", "/billing/statements", {**family["secretary"], "Content-Type": "text/csv"}, data=csv_export).json()
    assert [l["order_id"] for l in csv_report["matched"]] == [later["id"]]

    queue = api(system, "GET", "/billing/review", family["secretary"]).json()["items"]
    short = next(l for l in queue if l["outcome"] == "review:underpaid")
    refused = api(system, "POST", f"/billing/review/{short['id']}", family["secretary"], json={"order_id": underpaid["id"]})
    assert refused.status_code == 400  # 10 zł does not pay 12 zł
    assert api(system, "POST", f"/billing/review/{short['id']}", family["secretary"], json={"dismiss": True}).json()["outcome"] == "dismissed"
    no_number = next(l for l in queue if l["outcome"] == "unmatched" and l["transaction_number"] is None)
    resolved = api(system, "POST", f"/billing/review/{no_number['id']}", family["secretary"], json={"order_id": underpaid["id"]})
    assert resolved.status_code == 200 and resolved.json()["outcome"] == "resolved"
    assert api(system, "GET", f"/billing/orders/{underpaid['id']}", family["parent"]).json()["status"] == "paid"
    remaining = {l["id"] for l in api(system, "GET", "/billing/review", family["secretary"]).json()["items"]}
    assert short["id"] not in remaining and no_number["id"] not in remaining


def test_a_refund_takes_the_access_back_and_the_ledger_adds_up(system, family):
    child = family["child"]
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date()
    one_year = (today.replace(year=today.year + 1) - timedelta(days=1)).isoformat()
    two_years = (today.replace(year=today.year + 2) - timedelta(days=1)).isoformat()
    order = api(system, "POST", "/billing/orders", family["parent"], json={"product": "extended_access", "student_id": child.id, "channel": "cash"}).json()
    assert api(system, "POST", f"/billing/orders/{order['id']}/cash-payment", family["secretary"], json={"amount": {"amount": 2200, "currency": "PLN"}}).status_code == 200
    wait_for(lambda: api(system, "GET", "/me", family["parent"]).json()["children"][0]["access"]["valid_until"] == two_years, timeout=30, message="renewal from the end")

    assert api(system, "POST", f"/billing/orders/{order['id']}/refund", family["parent"], json={"reason": "pomyłka"}).status_code == 403
    refunded = api(system, "POST", f"/billing/orders/{order['id']}/refund", family["secretary"], json={"reason": "Opłacone dwa razy"})
    assert refunded.status_code == 200 and refunded.json()["status"] == "refunded"
    assert api(system, "POST", f"/billing/orders/{order['id']}/refund", family["secretary"], json={"reason": "jeszcze raz"}).status_code == 409
    wait_for(lambda: api(system, "GET", "/me", family["parent"]).json()["children"][0]["access"]["valid_until"] == one_year, timeout=30, message="access shortened")

    report = api(system, "GET", "/billing/reports/summary", family["secretary"]).json()
    orders = api(system, "GET", "/billing/orders", family["secretary"]).json()["items"]
    pending = sum(o["amount"]["amount"] for o in orders if o["status"] == "pending")
    assert report["balance"] == {"amount": pending, "currency": "PLN"}  # what is still owed
    paid_cash = sum(o["amount"]["amount"] for o in orders if o["status"] == "paid" and o["channel"] == "cash")
    assert report["by_channel"]["cash"]["amount"]["amount"] == paid_cash  # the refunded one nets out
    assert report["by_status"]["refunded"]["count"] >= 1
    kinds = [l["kind"] for l in report["ledger"] if l["order_id"] == order["id"]]
    assert kinds == ["charge", "payment", "refund", "charge"]  # append-only: the refund is a counter-entry
    csv_export = api(system, "GET", "/billing/reports/ledger.csv", family["secretary"])
    assert csv_export.status_code == 200 and order["transaction_number"] in csv_export.content.decode("utf-8-sig")
    assert api(system, "GET", "/billing/reports/summary", family["parent"]).status_code == 403
