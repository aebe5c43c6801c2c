"""Billing's gRPC entrypoint, and the adapter that asks identity about families."""
from __future__ import annotations

import grpc

from dziennik.billing.v1 import billing_pb2 as pb
from dziennik.billing.v1 import billing_pb2_grpc
from dziennik.identity.v1 import identity_pb2, identity_pb2_grpc
from platform_kit.auth import current_principal, service_metadata
from services.billing.orm import Order
from services.billing.money import find_transaction_numbers
from services.billing.use_cases import CHANNELS, Billing, Family, Statements


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing
        self.statements = Statements(billing)

    def GetOffer(self, request, context):
        products = self.billing.offer(current_principal())
        return pb.GetOfferResponse(products=[pb.Product(code=c, price=p, period_months=m) for c, (p, m) in products.items()], channels=list(CHANNELS))

    def SetProduct(self, request, context):
        price, months = self.billing.set_product(current_principal(), request.code, request.price, request.period_months)
        return pb.Product(code=request.code, price=price, period_months=months)

    def CreateOrder(self, request, context):
        order = self.billing.create_order(current_principal(), request.product, request.student_id, request.channel, request.client_ip)
        return pb.CreateOrderResponse(order=self._order(order))

    def ListOrders(self, request, context):
        return pb.ListOrdersResponse(orders=[self._order(o) for o in self.billing.orders(current_principal(), request.status)])

    def GetOrder(self, request, context):
        return pb.GetOrderResponse(order=self._order(self.billing.order(current_principal(), request.order_id)))

    def HandlePayuNotification(self, request, context):
        self.billing.payu_notification(request.body, request.signature)
        return pb.HandlePayuNotificationResponse()

    def RecordCashPayment(self, request, context):
        order = self.billing.cash_payment(current_principal(), request.order_id, request.amount, request.currency or "PLN")
        return pb.RecordCashPaymentResponse(order=self._order(order))

    def RefundOrder(self, request, context):
        return pb.RefundOrderResponse(order=self._order(self.billing.refund(current_principal(), request.order_id, request.reason)))

    def GetReport(self, request, context):
        report = self.billing.report(current_principal(), getattr(request, "from"), request.to)
        return pb.GetReportResponse(
            by_status=[pb.Total(key=k, count=c, amount=a) for k, (c, a) in sorted(report["by_status"].items())],
            by_channel=[pb.Total(key=k, count=c, amount=a) for k, (c, a) in sorted(report["by_channel"].items())],
            balance=report["balance"],
            ledger=[
                pb.LedgerLine(at=e.at.isoformat(), order_id=e.order_id, transaction_number=number, kind=e.kind, channel=e.channel, amount=e.amount, reference=e.reference)
                for e, number in report["ledger"]
            ],
        )

    def GetDocument(self, request, context):
        pdf, filename = self.billing.document(current_principal(), request.order_id, request.kind)
        return pb.GetDocumentResponse(pdf=pdf, filename=filename)

    def ImportStatement(self, request, context):
        report = self.statements.import_statement(current_principal(), request.file)
        return pb.ImportStatementResponse(matched=[_line(r) for r in report.matched], unmatched=[_line(r) for r in report.unmatched], duplicates=report.duplicates)

    def ListReviewQueue(self, request, context):
        return pb.ListReviewQueueResponse(lines=[_line(r) for r in self.statements.review_queue(current_principal())])

    def ResolveStatementLine(self, request, context):
        return pb.ResolveStatementLineResponse(line=_line(self.statements.resolve(current_principal(), request.line_id, request.order_id, request.dismiss)))

    def _order(self, order: Order) -> pb.Order:
        transfer = self.billing.transfer(order)
        return pb.Order(
            id=order.id, transaction_number=order.transaction_number, status=order.status, amount=order.amount, currency=order.currency,
            product=order.product, student_id=order.student_id, parent_id=order.parent_id, channel=order.channel, created_at=order.created_at.isoformat(),
            paid_at=order.paid_at.isoformat() if order.paid_at else "", transfer=pb.Transfer(**transfer) if transfer else None,
            redirect_url=order.redirect_url or "",
        )


def _line(row) -> pb.StatementLine:
    numbers = find_transaction_numbers(row.title)
    return pb.StatementLine(
        id=row.id, date=row.day.isoformat(), amount=row.amount, title=row.title, counterparty=row.counterparty, outcome=row.outcome,
        order_id=row.order_id or "", transaction_number=numbers[0] if numbers else "",
    )


class IdentityFamilies:
    def __init__(self, channel, service_token: str) -> None:
        self.stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self.metadata = service_metadata(service_token)

    def of(self, student_id: str) -> Family | None:
        try:
            answer = self.stub.GetStudentContacts(identity_pb2.GetStudentContactsRequest(student_id=student_id), metadata=self.metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return Family(
            answer.student_id, answer.school_id, answer.first_name, answer.last_name, frozenset(p.user_id for p in answer.parents),
            {p.user_id: f"{p.first_name} {p.last_name}" for p in answer.parents},
        )
