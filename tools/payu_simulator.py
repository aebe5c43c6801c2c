"""A PayU-compatible simulator for `make run` and the tests (PAYU_BASE_URL points at it).

Like the sandbox (secure.snd.payu.com) it speaks REST API 2.1: OAuth client credentials, order
creation answered with HTTP 302 and a JSON body, a payment page a person can click through, and
signed notifications POSTed to notifyUrl — PENDING, then COMPLETED (or CANCELED), sometimes
repeated, sometimes out of order, resent until answered 200. Sometimes it answers 429, as the
sandbox does when overloaded (PAYU_SIMULATOR_TROUBLE, the probability, default 0.2).
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import random
import secrets
import threading
import time
import uuid

import requests
from flask import Flask, Response, redirect, request

CLIENT_ID = os.environ.get("PAYU_CLIENT_ID", "300746")
CLIENT_SECRET = os.environ.get("PAYU_CLIENT_SECRET", "simulator-client-secret")
SECOND_KEY = os.environ.get("PAYU_SECOND_KEY", "simulator-second-key")
TROUBLE = float(os.environ.get("PAYU_SIMULATOR_TROUBLE", "0.2"))


def create_app() -> Flask:
    app = Flask(__name__)
    tokens: set[str] = set()
    orders: dict[str, dict] = {}
    lock = threading.Lock()

    def overloaded() -> Response | None:
        if random.random() < TROUBLE:
            return Response(json.dumps({"status": {"statusCode": "ERROR_TOO_MANY_REQUESTS"}}), 429, {"Retry-After": "1"}, mimetype="application/json")
        return None

    @app.post("/pl/standard/user/oauth/authorize")
    def authorize():
        if request.form.get("grant_type") != "client_credentials" or request.form.get("client_id") != CLIENT_ID or request.form.get("client_secret") != CLIENT_SECRET:
            return {"error": "invalid_client", "error_description": "Bad client credentials"}, 401
        token = secrets.token_hex(16)
        tokens.add(token)
        return {"access_token": token, "token_type": "bearer", "expires_in": 43199, "grant_type": "client_credentials"}

    @app.post("/api/v2_1/orders")
    def create_order():
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in tokens:
            return {"status": {"statusCode": "UNAUTHORIZED", "statusDesc": "Invalid access token"}}, 401
        busy = overloaded()
        if busy is not None:
            return busy
        order = request.get_json(silent=True) or {}
        missing = [f for f in ("merchantPosId", "description", "currencyCode", "totalAmount", "extOrderId", "notifyUrl", "products") if not order.get(f)]
        if missing:
            return {"status": {"statusCode": "ERROR_VALUE_MISSING", "statusDesc": f"Missing {', '.join(missing)}"}}, 400
        with lock:
            if any(o["extOrderId"] == order["extOrderId"] for o in orders.values()):
                return {"status": {"statusCode": "ERROR_ORDER_NOT_UNIQUE"}}, 400
            order_id = uuid.uuid4().hex[:20].upper()
            orders[order_id] = {**order, "orderId": order_id, "status": "NEW"}
        redirect_uri = f"{request.host_url.rstrip('/')}/pay/{order_id}"
        body = {"status": {"statusCode": "SUCCESS"}, "redirectUri": redirect_uri, "orderId": order_id, "extOrderId": order["extOrderId"]}
        return Response(json.dumps(body), 302, {"Location": redirect_uri}, mimetype="application/json")

    @app.get("/pay/<order_id>")
    def payment_page(order_id):
        order = orders.get(order_id)
        if order is None:
            return "Nie ma takiej płatności", 404
        amount = int(order["totalAmount"]) / 100
        return (
            "<!doctype html><html lang='pl'><meta charset='utf-8'><title>PayU (symulator)</title>"
            f"<h1>PayU — symulator</h1><p>{html.escape(order['description'])}</p><p>Kwota: <b>{amount:.2f} zł</b></p>"
            f"<form method='post'><button name='action' value='pay'>Zapłać</button> <button name='action' value='cancel'>Anuluj</button></form></html>"
        )

    @app.post("/pay/<order_id>")
    def pay(order_id):
        order = orders.get(order_id)
        if order is None:
            return "Nie ma takiej płatności", 404
        final = "COMPLETED" if request.form.get("action", "pay") == "pay" else "CANCELED"
        order["status"] = final
        threading.Thread(target=notify, args=(order, final), daemon=True).start()
        return redirect(order.get("continueUrl") or "/", 302)

    def notify(order: dict, final: str) -> None:
        statuses = ["PENDING", final]
        if random.random() < TROUBLE:
            statuses.append(final)  # repeated
        if random.random() < TROUBLE:
            statuses.reverse()  # out of order
        for status in statuses:
            body = json.dumps({"order": {"orderId": order["orderId"], "extOrderId": order["extOrderId"], "totalAmount": order["totalAmount"],
                                          "currencyCode": order["currencyCode"], "status": status}}).encode()
            signature = hashlib.md5(body + SECOND_KEY.encode()).hexdigest()
            header = f"sender=checkout;signature={signature};algorithm=MD5;content=DOCUMENT"
            for attempt in range(8):  # resent until the shop answers 200
                try:
                    answer = requests.post(order["notifyUrl"], data=body, headers={"Content-Type": "application/json", "OpenPayu-Signature": header}, timeout=10)
                    if answer.status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(min(2**attempt * 0.2, 5))

    @app.post("/api/v2_1/orders/<order_id>/refunds")
    def refund(order_id):
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in tokens:
            return {"status": {"statusCode": "UNAUTHORIZED"}}, 401
        order = orders.get(order_id)
        if order is None:
            return {"status": {"statusCode": "DATA_NOT_FOUND"}}, 404
        if order["status"] != "COMPLETED":
            return {"status": {"statusCode": "ERROR_ORDER_NOT_COMPLETED"}}, 400
        refund = (request.get_json(silent=True) or {}).get("refund", {})
        refund_id = uuid.uuid4().hex[:10]
        return {"orderId": order_id, "refund": {"refundId": refund_id, "amount": refund.get("amount"), "status": "PENDING"}, "status": {"statusCode": "SUCCESS"}}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PAYU_SIMULATOR_PORT", "8090")), threaded=True)
