"""Billing: the offer, orders, PayU's notifications, cash at school."""
from __future__ import annotations

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate


from dziennik.billing.v1 import billing_pb2 as pb
from gateway.api.schemas import StrictBoolean
from gateway.security import accepts, caller, client_ip, public

blp = Blueprint("billing", __name__, url_prefix="/api/v1/billing", description="Płatności")


def _billing():
    return current_app.extensions["backends"].billing


class MoneySchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000), metadata={"description": "grosze"})
    currency = fields.String(required=True, validate=validate.OneOf(["PLN"]))


class SumSchema(Schema):
    """Money in reports and statements: zero or negative too (payments are − in the ledger)."""

    amount = fields.Integer(metadata={"description": "grosze"})
    currency = fields.String(metadata={"enum": ["PLN"]})


class ProductSchema(Schema):
    code = fields.String()
    price = fields.Nested(MoneySchema)
    period_months = fields.Integer()


class OfferSchema(Schema):
    products = fields.List(fields.Nested(ProductSchema))
    channels = fields.List(fields.String())


class TransferSchema(Schema):
    account_number = fields.String()
    recipient = fields.String()
    title = fields.String(metadata={"description": "TRANSACTION number and the student's name; fits the payment QR code (32 characters)."})
    slip_rows = fields.List(fields.String(), metadata={"description": "The title in payment-slip rows of at most 27 characters."})


class OrderSchema(Schema):
    id = fields.String()
    transaction_number = fields.String()
    status = fields.String(metadata={"enum": ["pending", "paid", "cancelled", "refunded"]})
    amount = fields.Nested(MoneySchema)
    product = fields.String()
    student_id = fields.String()
    channel = fields.String()
    created_at = fields.String()
    paid_at = fields.String(allow_none=True)
    transfer = fields.Nested(TransferSchema, allow_none=True)
    redirect_url = fields.String(allow_none=True, metadata={"description": "PayU's payment page (channel payu)."})


class OrderListSchema(Schema):
    items = fields.List(fields.Nested(OrderSchema))


class NewOrderSchema(Schema):
    product = fields.String(required=True, validate=validate.OneOf(["extended_access", "sms_alerts"]))
    student_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    channel = fields.String(required=True, validate=validate.OneOf(["payu", "bank_transfer", "postal", "cash"]))


class CashSchema(Schema):
    amount = fields.Nested(MoneySchema, required=True)


class OrderFilterSchema(Schema):
    status = fields.String(validate=validate.OneOf(["pending", "paid", "cancelled", "refunded"]))


def _order(o) -> dict:
    transfer = None
    if o.HasField("transfer"):
        transfer = {"account_number": o.transfer.account_number, "recipient": o.transfer.recipient, "title": o.transfer.title, "slip_rows": list(o.transfer.slip_rows)}
    return {
        "id": o.id, "transaction_number": o.transaction_number, "status": o.status, "amount": {"amount": o.amount, "currency": o.currency}, "product": o.product,
        "student_id": o.student_id, "channel": o.channel, "created_at": o.created_at, "paid_at": o.paid_at or None, "transfer": transfer, "redirect_url": o.redirect_url or None,
    }


@blp.route("/offer", methods=["GET"])
@blp.response(200, OfferSchema)
def offer():
    """What the school sells and how one can pay."""
    answer = _billing().GetOffer(pb.GetOfferRequest(), metadata=caller().metadata)
    return {"products": [{"code": p.code, "price": {"amount": p.price, "currency": "PLN"}, "period_months": p.period_months} for p in answer.products], "channels": list(answer.channels)}


class PriceSchema(Schema):
    price = fields.Nested(MoneySchema, required=True)
    period_months = fields.Integer(required=True, validate=validate.Range(min=1, max=24))


@blp.route("/products/<code>", methods=["PUT"])
@blp.arguments(PriceSchema)
@blp.response(200, ProductSchema)
def set_product(body, code):
    """The school's price and period of a product (the secretary); new orders use it."""
    answer = _billing().SetProduct(pb.Product(code=code, price=body["price"]["amount"], period_months=body["period_months"]), metadata=caller().metadata)
    return {"code": answer.code, "price": {"amount": answer.price, "currency": "PLN"}, "period_months": answer.period_months}


@blp.route("/orders", methods=["POST"])
@blp.arguments(NewOrderSchema)
@blp.response(201, OrderSchema)
def create_order(body):
    """A parent orders a product for their child: PayU gives `redirect_url`; a transfer or a
    payment slip gives the account and the title with the TRANSACTION number."""
    answer = _billing().CreateOrder(
        pb.CreateOrderRequest(product=body["product"], student_id=body["student_id"], channel=body["channel"], client_ip=client_ip()), metadata=caller().metadata
    )
    return _order(answer.order)


@blp.route("/orders", methods=["GET"])
@blp.arguments(OrderFilterSchema, location="query")
@blp.response(200, OrderListSchema)
def list_orders(query):
    """A parent's own orders; the school's for the secretary."""
    return {"items": [_order(o) for o in _billing().ListOrders(pb.ListOrdersRequest(status=query.get("status", "")), metadata=caller().metadata).orders]}


@blp.route("/orders/<order_id>", methods=["GET"])
@blp.response(200, OrderSchema)
def get_order(order_id):
    """One order."""
    return _order(_billing().GetOrder(pb.GetOrderRequest(order_id=order_id), metadata=caller().metadata).order)


@blp.route("/orders/<order_id>/cash-payment", methods=["POST"])
@blp.arguments(CashSchema)
@blp.response(200, OrderSchema)
def cash_payment(body, order_id):
    """The secretary records the cash received at school (exactly the amount due)."""
    answer = _billing().RecordCashPayment(
        pb.RecordCashPaymentRequest(order_id=order_id, amount=body["amount"]["amount"], currency=body["amount"]["currency"]), metadata=caller().metadata
    )
    return _order(answer.order)


@public
@blp.route("/payu/notify", methods=["POST"])
@blp.response(200)
def payu_notify():
    """PayU's notification: its signature is checked on the raw body; every valid one — repeated
    or not — answers 200, a forged one 401 and changes nothing."""
    signature = request.headers.get("OpenPayu-Signature") or request.headers.get("X-OpenPayU-Signature", "")
    _billing().HandlePayuNotification(pb.HandlePayuNotificationRequest(body=request.get_data(cache=False), signature=signature))
    return {"status": "ok"}


class StatementLineSchema(Schema):
    id = fields.String()
    date = fields.String()
    amount = fields.Nested(SumSchema)
    title = fields.String()
    counterparty = fields.String()
    outcome = fields.String(metadata={"description": "matched, unmatched, review:underpaid|overpaid|name_differs|already_settled, resolved, dismissed"})
    order_id = fields.String(allow_none=True)
    transaction_number = fields.String(allow_none=True)


class StatementReportSchema(Schema):
    matched = fields.List(fields.Nested(StatementLineSchema))
    unmatched = fields.List(fields.Nested(StatementLineSchema), metadata={"description": "Waiting in the review queue."})
    duplicates = fields.Integer(metadata={"description": "Lines imported before (never paid twice)."})


class ReviewQueueSchema(Schema):
    items = fields.List(fields.Nested(StatementLineSchema))


class ResolutionSchema(Schema):
    order_id = fields.String(validate=validate.Length(min=1, max=64))
    dismiss = StrictBoolean(load_default=False)


def _line(line) -> dict:
    return {
        "id": line.id, "date": line.date, "amount": {"amount": line.amount, "currency": "PLN"}, "title": line.title, "counterparty": line.counterparty,
        "outcome": line.outcome, "order_id": line.order_id or None, "transaction_number": line.transaction_number or None,
    }


@accepts("text/plain", "text/csv", "application/octet-stream")
@blp.route("/statements", methods=["POST"])
@blp.response(200, StatementReportSchema)
@blp.doc(requestBody={"content": {"text/plain": {"schema": {"type": "string", "format": "binary"}}}})
def import_statement():
    """Import a bank statement (the secretary): MT940 or a CSV export (UTF-8, Windows-1250,
    ISO-8859-2, CP852). Lines naming a pending order's TRANSACTION number (check digit right),
    confirmed by the student's name and the exact amount, pay it; the rest waits for review."""
    answer = _billing().ImportStatement(pb.ImportStatementRequest(file=request.get_data(cache=False)), metadata=caller().metadata)
    return {"matched": [_line(l) for l in answer.matched], "unmatched": [_line(l) for l in answer.unmatched], "duplicates": answer.duplicates}


@blp.route("/review", methods=["GET"])
@blp.response(200, ReviewQueueSchema)
def review_queue():
    """Statement lines the secretary must decide about: no number, a name that differs, a wrong amount."""
    return {"items": [_line(l) for l in _billing().ListReviewQueue(pb.ListReviewQueueRequest(), metadata=caller().metadata).lines]}


@blp.route("/review/<line_id>", methods=["POST"])
@blp.arguments(ResolutionSchema)
@blp.response(200, StatementLineSchema)
def resolve_line(body, line_id):
    """Pay an order from a checked line (`order_id`), or dismiss the line (`dismiss: true`)."""
    answer = _billing().ResolveStatementLine(
        pb.ResolveStatementLineRequest(line_id=line_id, order_id=body.get("order_id", ""), dismiss=body["dismiss"]), metadata=caller().metadata
    )
    return _line(answer.line)


def _document(order_id: str, kind: str) -> Response:
    answer = _billing().GetDocument(pb.GetDocumentRequest(order_id=order_id, kind=kind), metadata=caller().metadata)
    return Response(answer.pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{answer.filename}"'})


@blp.route("/orders/<order_id>/slip.pdf", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
def payment_slip(order_id):
    """A printable payment slip with the ZBP payment QR code (transfer and post-office orders)."""
    return _document(order_id, "slip")


@blp.route("/orders/<order_id>/receipt.pdf", methods=["GET"])
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
def cash_receipt(order_id):
    """The receipt for cash paid at school."""
    return _document(order_id, "receipt")


class RefundSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=200))


class TotalSchema(Schema):
    count = fields.Integer()
    amount = fields.Nested(SumSchema)


class LedgerLineSchema(Schema):
    at = fields.String()
    order_id = fields.String()
    transaction_number = fields.String()
    kind = fields.String(metadata={"enum": ["charge", "payment", "refund"]})
    channel = fields.String()
    amount = fields.Nested(SumSchema, metadata={"description": "charges +, payments −, refunds +"})
    reference = fields.String()


class ReportSchema(Schema):
    by_status = fields.Dict(keys=fields.String(), values=fields.Nested(TotalSchema))
    by_channel = fields.Dict(keys=fields.String(), values=fields.Nested(TotalSchema), metadata={"description": "Money received (payments less refunds)."})
    balance = fields.Nested(SumSchema, metadata={"description": "Still owed: the sum of the ledger."})
    ledger = fields.List(fields.Nested(LedgerLineSchema))


class PeriodSchema(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()


def _money(amount: int) -> dict:
    return {"amount": amount, "currency": "PLN"}


def _report(query) -> object:
    request = pb.GetReportRequest(**{"from": query["from_"].isoformat() if query.get("from_") else "", "to": query["to"].isoformat() if query.get("to") else ""})
    return _billing().GetReport(request, metadata=caller().metadata)


@blp.route("/orders/<order_id>/refund", methods=["POST"])
@blp.arguments(RefundSchema)
@blp.response(200, OrderSchema)
def refund(body, order_id):
    """Give a paid order's money back (the secretary; through PayU for PayU orders); the extended
    access it bought ends accordingly."""
    return _order(_billing().RefundOrder(pb.RefundOrderRequest(order_id=order_id, reason=body["reason"]), metadata=caller().metadata).order)


@blp.route("/reports/summary", methods=["GET"])
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, ReportSchema)
def report(query):
    """The school's payments: orders by status, money by channel, the ledger and its balance."""
    answer = _report(query)
    return {
        "by_status": {t.key: {"count": t.count, "amount": _money(t.amount)} for t in answer.by_status},
        "by_channel": {t.key: {"count": t.count, "amount": _money(t.amount)} for t in answer.by_channel},
        "balance": _money(answer.balance),
        "ledger": [
            {"at": l.at, "order_id": l.order_id, "transaction_number": l.transaction_number, "kind": l.kind, "channel": l.channel, "amount": _money(l.amount), "reference": l.reference}
            for l in answer.ledger
        ],
    }


@blp.route("/reports/ledger.csv", methods=["GET"])
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, {"type": "string"}, content_type="text/csv")
def ledger_csv(query):
    """The ledger as CSV (`;`, amounts in złoty with a decimal comma) for the school's accounting."""
    import csv
    import io

    answer = _report(query)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["data", "numer transakcji", "rodzaj", "kanał", "kwota", "referencja"])
    for l in answer.ledger:
        writer.writerow([l.at, l.transaction_number, l.kind, l.channel, f"{l.amount / 100:.2f}".replace(".", ","), l.reference])
    return Response(out.getvalue().encode("utf-8-sig"), mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="ksiega-wplat.csv"'})
