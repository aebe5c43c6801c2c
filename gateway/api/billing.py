"""Billing: the offer, orders, PayU's notifications, cash at school."""
from __future__ import annotations

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from dziennik.billing.v1 import billing_pb2 as pb
from gateway.security import caller, client_ip, public

blp = Blueprint("billing", __name__, url_prefix="/api/v1/billing", description="Płatności")


def _billing():
    return current_app.extensions["backends"].billing


class MoneySchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000), metadata={"description": "grosze"})
    currency = fields.String(required=True, validate=validate.OneOf(["PLN"]))


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
