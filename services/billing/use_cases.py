"""What billing does: the offer, orders with TRANSACTION numbers, PayU payments settled once
however often PayU tells us, and cash at school — every change recorded, money in an
append-only ledger."""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dziennik.billing.v1 import events_pb2
from platform_kit.auth import Principal
from platform_kit.clock import utcnow as _now
from platform_kit.bus import EventType, record_event
from platform_kit.db import Database
from platform_kit.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated, Unavailable
from services.billing import money
from services.billing import documents, statements
from services.billing.orm import LedgerEntry, Order, OrderChange, Product
from services.billing.orm import StatementLine as StatementLineRow
from services.billing.payu import PayU

log = logging.getLogger(__name__)

PAYMENT_SETTLED = EventType("billing.payment_settled.v1", events_pb2.PaymentSettled)
PAYMENT_REFUNDED = EventType("billing.payment_refunded.v1", events_pb2.PaymentRefunded)
CHANNELS = ("payu", "bank_transfer", "postal", "cash")
DEFAULT_PRODUCTS = {"extended_access": (2200, 12), "sms_alerts": (1200, 12)}  # grosze, months
PRODUCT_NAMES = {"extended_access": "Dostęp rozszerzony do dziennika", "sms_alerts": "Powiadomienia SMS"}


@dataclass(frozen=True)
class Family:
    """What identity says about a student: school, name, parents."""

    student_id: str
    school_id: str
    first_name: str
    last_name: str
    parent_ids: frozenset[str]
    parent_names: dict[str, str] = field(default_factory=dict)


class Families(Protocol):
    def of(self, student_id: str) -> Family | None: ...


@dataclass(frozen=True)
class BillingConfig:
    public_url: str
    second_key: str
    account_number: str
    recipient: str


class Billing:
    def __init__(self, database: Database, families: Families, payu: PayU, config: BillingConfig) -> None:
        self.database = database
        self.families = families
        self.payu = payu
        self.config = config

    def offer(self, caller: Principal) -> dict[str, tuple[int, int]]:
        with self.database.transaction() as session:
            return _products(session, caller.school_id or "")

    def set_product(self, caller: Principal, code: str, price: int, period_months: int) -> tuple[int, int]:
        if "school_admin" not in caller.roles:
            raise PermissionDenied("ceny ustala sekretariat")
        problems = {}
        if code not in DEFAULT_PRODUCTS:
            problems["code"] = f"Jeden z: {', '.join(DEFAULT_PRODUCTS)}."
        if not 100 <= price <= 100_000:
            problems["price"] = "Cena od 1 do 1000 zł (w groszach)."
        if not 1 <= period_months <= 24:
            problems["period_months"] = "Okres od 1 do 24 miesięcy."
        if problems:
            raise InvalidArgument("niepoprawna cena", field_errors=problems)
        with self.database.transaction() as session:
            row = session.scalar(select(Product).where(Product.school_id == caller.school_id, Product.code == code)) or Product(school_id=caller.school_id, code=code)
            row.price, row.period_months = price, period_months
            session.add(row)
        return price, period_months

    def create_order(self, caller: Principal, product: str, student_id: str, channel: str, client_ip: str = "") -> Order:
        """A parent orders a product for their child; PayU orders get PayU's payment page."""
        if "parent" not in caller.roles:
            raise PermissionDenied("zamówienia składa rodzic")
        family = self.families.of(student_id) if student_id else None
        if family is None or caller.user_id not in family.parent_ids:
            raise NotFound("nie ma takiego ucznia")
        problems = {}
        if channel not in CHANNELS:
            problems["channel"] = f"Jeden z: {', '.join(CHANNELS)}."
        with self.database.transaction() as session:
            products = _products(session, family.school_id)
        if product not in products:
            problems["product"] = f"Jeden z: {', '.join(products)}."
        if problems:
            raise InvalidArgument("niepoprawne zamówienie", field_errors=problems)
        price, months = products[product]
        order = self._insert_order(caller, family, product, price, months, channel)
        if channel == "payu":
            self._start_payu(order, family, client_ip)
        return self.order(caller, order.id)

    def _insert_order(self, caller: Principal, family: Family, product: str, price: int, months: int, channel: str) -> Order:
        for _ in range(5):  # a random TRANSACTION number may, rarely, be taken
            number = money.new_transaction_number()
            try:
                with self.database.transaction() as session:
                    order = Order(
                        id=str(uuid.uuid4()), transaction_number=number, school_id=family.school_id, parent_id=caller.user_id, student_id=family.student_id,
                        student_name=f"{family.first_name} {family.last_name}", student_last_name=family.last_name, product=product, period_months=months, amount=price, currency="PLN",
                        channel=channel, status=money.PENDING, title=money.transfer_title(number, family.first_name, family.last_name), created_at=_now(),
                    )
                    session.add(order)
                    session.flush()
                    _change(session, order, None, money.PENDING, caller.user_id, f"zamówienie ({channel})")
                    session.add(LedgerEntry(school_id=order.school_id, order_id=order.id, kind="charge", channel=channel, amount=price, reference=number, at=order.created_at))
                return order
            except IntegrityError:
                continue
        raise Unavailable("nie udało się nadać numeru transakcji")

    def _start_payu(self, order: Order, family: Family, client_ip: str) -> None:
        base = self.config.public_url.rstrip("/")
        try:
            created = self.payu.create_order(
                ext_order_id=order.id,
                description=f"{PRODUCT_NAMES.get(order.product, order.product)}: {order.student_name}",
                amount=order.amount,
                notify_url=f"{base}/api/v1/billing/payu/notify",
                continue_url=f"{base}/platnosci/{order.id}",
                customer_ip=client_ip,
                buyer={"extCustomerId": order.parent_id, "language": "pl"},
                products=[{"name": PRODUCT_NAMES.get(order.product, order.product), "unitPrice": str(order.amount), "quantity": "1"}],
            )
        except Unavailable:
            with self.database.transaction() as session:
                stored = session.get(Order, order.id, with_for_update=True)
                _change(session, stored, stored.status, money.next_status(stored.status, money.CANCELLED), "payu", "PayU niedostępne przy zakładaniu płatności")
                stored.status = money.CANCELLED
                session.add(LedgerEntry(school_id=stored.school_id, order_id=stored.id, kind="charge", channel="payu", amount=-stored.amount, reference="anulowanie", at=_now()))
            raise
        with self.database.transaction() as session:
            stored = session.get(Order, order.id)
            stored.payu_order_id, stored.redirect_url = created.payu_order_id, created.redirect_uri

    def orders(self, caller: Principal, status: str = "") -> list[Order]:
        query = select(Order)
        if "school_admin" in caller.roles:
            query = query.where(Order.school_id == caller.school_id)
        elif "parent" in caller.roles:
            query = query.where(Order.parent_id == caller.user_id)
        else:
            raise PermissionDenied("zamówienia widzi rodzic i sekretariat")
        if status:
            query = query.where(Order.status == status)
        with self.database.transaction() as session:
            return list(session.scalars(query.order_by(Order.created_at.desc()).limit(500)))

    def order(self, caller: Principal, order_id: str) -> Order:
        with self.database.transaction() as session:
            order = session.get(Order, order_id) if order_id else None
        if order is None or not (order.parent_id == caller.user_id or ("school_admin" in caller.roles and order.school_id == caller.school_id)):
            raise NotFound("nie ma takiego zamówienia")
        return order

    def transfer(self, order: Order) -> dict | None:
        if order.channel not in ("bank_transfer", "postal"):
            return None
        return {"account_number": self.config.account_number, "recipient": self.config.recipient, "title": order.title, "slip_rows": money.slip_rows(order.title)}

    def document(self, caller: Principal, order_id: str, kind: str) -> tuple[bytes, str]:
        """The payment slip of a transfer or post-office order, or the receipt of cash paid."""
        order = self.order(caller, order_id)
        family = self.families.of(order.student_id)
        payer = (family.parent_names.get(order.parent_id) if family else None) or "Rodzic"
        if kind == "slip":
            if order.channel not in ("bank_transfer", "postal"):
                raise InvalidArgument("to nie przelew", field_errors={"kind": "Blankiet jest dla zamówień płatnych przelewem lub na poczcie."})
            slip = documents.SlipData(self.config.recipient, self.config.account_number, order.amount, order.title, payer, order.transaction_number)
            return documents.payment_slip_pdf(slip), f"blankiet-{order.transaction_number}.pdf"
        if kind == "receipt":
            if order.channel != "cash" or order.status != money.PAID:
                raise InvalidArgument("brak wpłaty gotówkowej", field_errors={"kind": "Potwierdzenie jest dla zamówień opłaconych gotówką."})
            pdf = documents.cash_receipt_pdf(
                school=self.config.recipient, order_number=order.transaction_number, payer=payer, student=order.student_name,
                product=PRODUCT_NAMES.get(order.product, order.product), amount=order.amount, paid_at=order.paid_at, received_by="sekretariat szkoły",
            )
            return pdf, f"potwierdzenie-{order.transaction_number}.pdf"
        raise InvalidArgument("nieznany dokument", field_errors={"kind": "slip albo receipt."})

    # -- payments --------------------------------------------------------------------------------------------

    def payu_notification(self, body: bytes, signature: str) -> None:
        """PayU's notification: verified on the raw body, settled once whatever the order or
        repetition of notifications; a forged one changes nothing."""
        if not money.verify_payu_signature(body, signature, self.config.second_key):
            raise Unauthenticated("podpis powiadomienia PayU się nie zgadza", code="unauthenticated")
        try:
            notified = json.loads(body)["order"]
            ext_order_id, status = notified["extOrderId"], notified["status"]
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("niepoprawne powiadomienie", field_errors={"order": "Brak extOrderId lub status."}) from None
        with self.database.transaction() as session:
            order = session.get(Order, ext_order_id, with_for_update=True)
            if order is None or (order.payu_order_id and notified.get("orderId") not in (None, order.payu_order_id)):
                log.warning("PayU notification for an unknown order %s", ext_order_id)
                return  # answered 200: PayU must stop resending what we will never match
            if status == "COMPLETED":
                if str(notified.get("totalAmount")) != str(order.amount):
                    log.error("PayU says %s for order %s of %s grosze; left for review", notified.get("totalAmount"), order.id, order.amount)
                    return
                self._settle(session, order, "payu", "payu", notified.get("orderId", ""))
            elif status == "CANCELED" and order.status == money.PENDING:
                _change(session, order, order.status, money.CANCELLED, "payu", "płatność anulowana w PayU")
                order.status = money.CANCELLED
                session.add(LedgerEntry(school_id=order.school_id, order_id=order.id, kind="charge", channel="payu", amount=-order.amount, reference="anulowanie", at=_now()))

    def cash_payment(self, caller: Principal, order_id: str, amount: int, currency: str = "PLN") -> Order:
        """The secretary records cash received at school for an order."""
        if "school_admin" not in caller.roles:
            raise PermissionDenied("wpłatę gotówki przyjmuje sekretariat")
        with self.database.transaction() as session:
            order = session.get(Order, order_id, with_for_update=True) if order_id else None
            if order is None or order.school_id != caller.school_id:
                raise NotFound("nie ma takiego zamówienia")
            if currency != order.currency or amount != order.amount:
                raise InvalidArgument("kwota się nie zgadza", field_errors={"amount": f"Należność: {order.amount / 100:.2f} zł."})
            if order.status != money.PENDING:
                raise Conflict(f"zamówienie jest już w stanie {order.status}")
            self._settle(session, order, "cash", caller.user_id, f"kasa:{caller.user_id}")
            return order

    def refund(self, caller: Principal, order_id: str, reason: str) -> Order:
        """The secretary gives a paid order's money back (PayU's refund API for PayU orders,
        by hand otherwise); the access it bought is taken back."""
        if "school_admin" not in caller.roles:
            raise PermissionDenied("zwrot zleca sekretariat")
        reason = reason.strip()
        if not 3 <= len(reason) <= 200:
            raise InvalidArgument("brak powodu", field_errors={"reason": "Powód zwrotu: od 3 do 200 znaków."})
        order = self.order(caller, order_id)
        if order.status != money.PAID:
            raise Conflict(f"zwrócić można tylko opłacone zamówienie (to jest w stanie {order.status})")
        reference = "ręczny"
        if order.channel == "payu" and order.payu_order_id:
            reference = f"payu:{self.payu.refund(order.payu_order_id, amount=order.amount, description=reason)}"
        with self.database.transaction() as session:
            order = session.get(Order, order_id, with_for_update=True)
            if order.status != money.PAID:  # refunded by a parallel request meanwhile
                raise Conflict(f"zamówienie jest już w stanie {order.status}")
            _change(session, order, order.status, money.next_status(order.status, money.REFUNDED), caller.user_id, f"zwrot: {reason}")
            order.status = money.REFUNDED
            now = _now()
            # The money goes out and the debt is void: the order nets to zero in the ledger.
            session.add(LedgerEntry(school_id=order.school_id, order_id=order.id, kind="refund", channel=order.channel, amount=order.amount, reference=reference[:100], at=now))
            session.add(LedgerEntry(school_id=order.school_id, order_id=order.id, kind="charge", channel=order.channel, amount=-order.amount, reference="zwrot", at=now))
            refunded_at = Timestamp()
            refunded_at.FromDatetime(now)
            record_event(
                session, PAYMENT_REFUNDED,
                events_pb2.PaymentRefunded(order_id=order.id, school_id=order.school_id, parent_id=order.parent_id, student_id=order.student_id, product=order.product,
                                           period_months=order.period_months, amount=order.amount, channel=order.channel, refunded_at=refunded_at),
                school_id=order.school_id, subject=order.student_id,
            )
            return order

    def report(self, caller: Principal, start: str = "", end: str = "") -> dict:
        """Per-school totals: orders by status, money received by channel, the ledger's balance and lines."""
        if "school_admin" not in caller.roles:
            raise PermissionDenied("raporty płatności widzi sekretariat")
        with self.database.transaction() as session:
            orders = select(Order).where(Order.school_id == caller.school_id)
            ledger = select(LedgerEntry, Order.transaction_number).join(Order, Order.id == LedgerEntry.order_id).where(LedgerEntry.school_id == caller.school_id)
            if start:
                orders = orders.where(Order.created_at >= _moment(start, "from"))
                ledger = ledger.where(LedgerEntry.at >= _moment(start, "from"))
            if end:
                orders = orders.where(Order.created_at < _moment(end, "to", next_day=True))
                ledger = ledger.where(LedgerEntry.at < _moment(end, "to", next_day=True))
            by_status: dict[str, list[int]] = {}
            for order in session.scalars(orders):
                total = by_status.setdefault(order.status, [0, 0])
                total[0] += 1
                total[1] += order.amount
            lines = list(session.execute(ledger.order_by(LedgerEntry.id)).tuples())
        by_channel: dict[str, list[int]] = {}
        for entry, _ in lines:
            if entry.kind in ("payment", "refund"):
                total = by_channel.setdefault(entry.channel, [0, 0])
                total[0] += 1 if entry.kind == "payment" else -1
                total[1] += -entry.amount  # payments are negative entries, refunds positive
        return {"by_status": by_status, "by_channel": by_channel, "balance": sum(e.amount for e, _ in lines), "ledger": lines}

    def _settle(self, session: Session, order: Order, channel: str, actor: str, reference: str) -> None:
        """pending → paid once: the ledger entry and PaymentSettled happen with that change only."""
        if order.status != money.PENDING:
            return  # settled (or cancelled) before: a repeated notification changes nothing
        _change(session, order, order.status, money.PAID, actor, f"zapłacono ({channel})")
        order.status, order.paid_at = money.PAID, _now()
        session.add(LedgerEntry(school_id=order.school_id, order_id=order.id, kind="payment", channel=channel, amount=-order.amount, reference=reference[:100], at=order.paid_at))
        settled_at = Timestamp()
        settled_at.FromDatetime(order.paid_at)
        record_event(
            session, PAYMENT_SETTLED,
            events_pb2.PaymentSettled(order_id=order.id, school_id=order.school_id, parent_id=order.parent_id, student_id=order.student_id, product=order.product,
                                      period_months=order.period_months, amount=order.amount, channel=channel, settled_at=settled_at),
            school_id=order.school_id, subject=order.student_id,
        )


def _moment(raw: str, field: str, *, next_day: bool = False) -> datetime:
    from datetime import date, timedelta

    try:
        day = date.fromisoformat(raw) + (timedelta(days=1) if next_day else timedelta())
    except ValueError:
        raise InvalidArgument("niepoprawna data", field_errors={field: "Data w postaci RRRR-MM-DD."}) from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _change(session: Session, order: Order, old: str | None, new: str, actor: str, note: str) -> None:
    session.add(OrderChange(order_id=order.id, old_status=old, new_status=new, actor=actor, note=note, at=_now()))


def _products(session: Session, school_id: str) -> dict[str, tuple[int, int]]:
    products = dict(DEFAULT_PRODUCTS)
    for row in session.scalars(select(Product).where(Product.school_id == school_id)):
        products[row.code] = (row.price, row.period_months)
    return products


# -- bank statements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    matched: list[StatementLineRow]
    unmatched: list[StatementLineRow]
    duplicates: int


class Statements:
    """The secretary imports bank statements; lines are matched to orders, or wait for her."""

    def __init__(self, billing: Billing) -> None:
        self.billing = billing
        self.database = billing.database

    def import_statement(self, caller: Principal, data: bytes) -> ImportReport:
        if "school_admin" not in caller.roles:
            raise PermissionDenied("wyciągi importuje sekretariat")
        if not data:
            raise InvalidArgument("pusty plik", field_errors={"file": "Wyślij plik wyciągu (MT940 lub CSV)."})
        lines = statements.parse_statement(data)
        matched, unmatched, duplicates = [], [], 0
        with self.database.transaction() as session:
            for line in lines:
                if session.scalar(select(StatementLineRow).where(StatementLineRow.school_id == caller.school_id, StatementLineRow.line_key == line.key)):
                    duplicates += 1  # imported before (the same or an overlapping statement): never paid twice
                    continue
                candidate_order = self._candidate(session, caller.school_id, line)
                outcome = statements.judge(line, _candidate_of(candidate_order) if candidate_order else None)
                row = StatementLineRow(
                    id=str(uuid.uuid4()), school_id=caller.school_id, line_key=line.key, day=line.day, amount=line.amount, title=line.title[:2000],
                    counterparty=line.counterparty[:200], reference=line.reference[:100], outcome=outcome,
                    order_id=candidate_order.id if candidate_order else None, imported_by=caller.user_id, imported_at=_now(),
                )
                session.add(row)
                session.flush()
                if outcome == "matched":
                    locked = session.get(Order, candidate_order.id, with_for_update=True)
                    self.billing._settle(session, locked, locked.channel if locked.channel in ("bank_transfer", "postal") else "bank_transfer", caller.user_id, f"wyciąg:{line.reference or row.id}")
                    matched.append(row)
                elif outcome != "ignored":
                    unmatched.append(row)
        return ImportReport(matched, unmatched, duplicates)

    @staticmethod
    def _candidate(session: Session, school_id: str, line: statements.StatementLine) -> Order | None:
        for number in money.find_transaction_numbers(line.title):
            order = session.scalar(select(Order).where(Order.transaction_number == number, Order.school_id == school_id))
            if order is not None:
                return order
        return None

    def review_queue(self, caller: Principal) -> list[StatementLineRow]:
        if "school_admin" not in caller.roles:
            raise PermissionDenied("kolejkę wpłat do wyjaśnienia prowadzi sekretariat")
        with self.database.transaction() as session:
            return list(
                session.scalars(
                    select(StatementLineRow).where(StatementLineRow.school_id == caller.school_id, or_(StatementLineRow.outcome == "unmatched", StatementLineRow.outcome.like("review:%")))
                    .order_by(StatementLineRow.day, StatementLineRow.imported_at)
                )
            )

    def resolve(self, caller: Principal, line_id: str, order_id: str = "", dismiss: bool = False) -> StatementLineRow:
        """The secretary pays an order from a line she has checked, or dismisses the line
        (e.g. money to return); either is recorded."""
        if "school_admin" not in caller.roles:
            raise PermissionDenied("kolejkę wpłat do wyjaśnienia prowadzi sekretariat")
        with self.database.transaction() as session:
            row = session.get(StatementLineRow, line_id, with_for_update=True) if line_id else None
            if row is None or row.school_id != caller.school_id or not (row.outcome == "unmatched" or row.outcome.startswith("review:")):
                raise NotFound("nie ma takiej wpłaty do wyjaśnienia")
            if dismiss:
                row.outcome = "dismissed"
                return row
            order = session.get(Order, order_id, with_for_update=True) if order_id else None
            if order is None or order.school_id != caller.school_id:
                raise InvalidArgument("nie ma takiego zamówienia", field_errors={"order_id": "Wskaż zamówienie tej szkoły."})
            if order.status != money.PENDING:
                raise Conflict(f"zamówienie jest już w stanie {order.status}")
            if row.amount != order.amount:
                raise InvalidArgument("kwota się nie zgadza", field_errors={"order_id": f"Wpłata {row.amount / 100:.2f} zł, należność {order.amount / 100:.2f} zł."})
            self.billing._settle(session, order, "bank_transfer", caller.user_id, f"wyjaśnienie:{row.id}")
            row.outcome, row.order_id = "resolved", order.id
            return row


def _candidate_of(order: Order) -> statements.Candidate:
    return statements.Candidate(order.id, order.transaction_number, order.amount, order.status, order.student_last_name)
