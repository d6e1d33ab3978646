"""A Stripe-compatible API server on loopback for the tests: stateful, recording, answering like API 2026-05-27.

It serves the endpoints this service and dj-stripe 2.11's re-fetches use. Objects start from the JSON fixtures
in tests/fakes/stripe_objects/ (shapes of the pinned API version). Mutations change the stored objects, so what is
changed through it reads back changed. Idempotency keys behave as Stripe's do: the same key with the same
parameters replays the first answer; with other parameters it is refused.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parent / "stripe_objects"
API_VERSION = "2026-05-27.dahlia"


def fixture(name: str) -> dict[str, Any]:
    """Return a fresh copy of a JSON fixture."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Turn Stripe's form encoding (items[0][price]=x) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_listify(node[key]) for key in sorted(node, key=int)]
    return {key: _listify(value) for key, value in node.items()}


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    # What `FakeStripe.write_lock_probe` saw when the request arrived (None: no probe installed).
    database_write_locked: bool | None = None

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class FakeStripe:
    account_id: str = "acct_1AragoraTest0001"
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    _idempotency: dict[str, tuple[str, int, dict]] = field(default_factory=dict)
    # Where the hosted Checkout page sends its signed events: (webhook URL, signing secret).
    webhook_target: tuple[str, str] | None = None
    # Asked on every API request, from the server's side: does some database connection hold a write lock now?
    write_lock_probe: Any = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> FakeStripe:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True).start()
        self.reset()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self._lock:
            self.objects.clear()
            self.requests.clear()
            self.events.clear()
            self.failures.clear()
            self._idempotency.clear()
            self.webhook_target = None
            self.write_lock_probe = None
            account = fixture("account")
            account["id"] = self.account_id
            self.objects[account["id"]] = account

    # -- test helpers ------------------------------------------------------
    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    def fail_next(self, method: str, path: str, status: int = 500) -> None:
        """Answer the next matching request with an error (network-level faults are the client's to retry)."""
        with self._lock:
            self.failures.append((method, path, status))

    def add_product_and_price(self, *, price_id: str, unit_amount: int, name: str) -> dict[str, Any]:
        product = fixture("product")
        product.update(id=f"prod_{price_id.removeprefix('price_')}", name=name, default_price=price_id)
        price = fixture("price")
        price.update(id=price_id, product=product["id"], unit_amount=unit_amount, unit_amount_decimal=str(unit_amount))
        with self._lock:
            self.objects[product["id"]] = product
            self.objects[price_id] = price
        return copy.deepcopy(price)

    def add_customer(self, *, email: str = "owner@example.com", metadata: dict | None = None) -> dict[str, Any]:
        return self._create_customer({"email": email, "name": "Example organization", "metadata": metadata or {}})

    def add_subscription(
        self,
        *,
        customer_id: str,
        price_id: str,
        status: str = "active",
        metadata: dict | None = None,
        period_end: int | None = None,
    ) -> dict[str, Any]:
        now = int(time.time())
        sub = fixture("subscription")
        sub_id = self._new_id("sub")
        item = fixture("subscription_item")
        item.update(
            id=self._new_id("si"),
            subscription=sub_id,
            created=now,
            current_period_start=now,
            current_period_end=period_end or now + 30 * 86400,
            price=self.get(price_id),
        )
        sub.update(
            id=sub_id,
            customer=customer_id,
            status=status,
            metadata=metadata or {},
            created=now,
            start_date=now,
            billing_cycle_anchor=now,
        )
        sub["items"].update(data=[item], url=f"/v1/subscription_items?subscription={sub_id}")
        with self._lock:
            self.objects[sub_id] = sub
        return copy.deepcopy(sub)

    def add_invoice(self, *, subscription_id: str, status: str = "open", attempt_count: int = 1) -> dict[str, Any]:
        sub = self.get(subscription_id)
        item = sub["items"]["data"][0]
        invoice = fixture("invoice")
        invoice_id = self._new_id("in")
        line = fixture("invoice_line_item")
        line.update(id=self._new_id("il"), invoice=invoice_id, amount=item["price"]["unit_amount"])
        line["parent"]["subscription_item_details"].update(subscription=sub["id"], subscription_item=item["id"])
        line["pricing"]["price_details"].update(price=item["price"]["id"], product=item["price"]["product"])
        invoice.update(
            id=invoice_id,
            customer=sub["customer"],
            status=status,
            attempt_count=attempt_count,
            amount_due=item["price"]["unit_amount"],
            amount_paid=item["price"]["unit_amount"] if status == "paid" else 0,
            amount_remaining=0 if status == "paid" else item["price"]["unit_amount"],
            subtotal=item["price"]["unit_amount"],
            total=item["price"]["unit_amount"],
            created=int(time.time()),
        )
        invoice["parent"]["subscription_details"].update(subscription=sub["id"], metadata=sub["metadata"])
        invoice["lines"].update(data=[line], url=f"/v1/invoices/{invoice_id}/lines")
        with self._lock:
            self.objects[invoice_id] = invoice
        return copy.deepcopy(invoice)

    def get(self, object_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.objects[object_id])

    def update(self, object_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            self.objects[object_id].update(changes)
            return copy.deepcopy(self.objects[object_id])

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        previous_attributes: dict | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """Return (and remember, for the events list) an event wrapping `obj` as Stripe would send it."""
        event = fixture("event")
        event.update(id=event_id or self._new_id("evt"), type=event_type, created=created or int(time.time()))
        event["data"] = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            event["data"]["previous_attributes"] = previous_attributes
        with self._lock:
            self.events.append(event)
        return copy.deepcopy(event)

    # -- the API -----------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(7)}"

    def handle(self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict]:
        probe = self.write_lock_probe
        locked = probe() if probe is not None else None
        with self._lock:
            self.requests.append(RecordedRequest(method, path, params, headers, locked))
            for index, (fail_method, fail_path, status) in enumerate(self.failures):
                if fail_method == method and re.fullmatch(fail_path, path):
                    del self.failures[index]
                    return status, {"error": {"type": "api_error", "message": "Injected failure."}}
            key = headers.get("idempotency-key")
            if method in {"POST", "DELETE"} and key:
                fingerprint = json.dumps([path, params], sort_keys=True)
                if key in self._idempotency:
                    seen, status, body = self._idempotency[key]
                    if seen != fingerprint:
                        return 400, {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with the same parameters.",
                            }
                        }
                    return status, copy.deepcopy(body)
                status, body = self._route(method, path, params)
                if status < 500:
                    self._idempotency[key] = (fingerprint, status, copy.deepcopy(body))
                return status, body
            return self._route(method, path, params)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        for route_method, pattern, action in self._routes():
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return action(params, *match.groups())
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})."}}

    def _routes(self) -> list:
        return [
            ("GET", r"/v1/account", lambda p: (200, self.get(self.account_id))),
            ("POST", r"/v1/customers", lambda p: (200, self._create_customer(p))),
            ("GET", r"/v1/customers/([\w]+)", lambda p, i: self._read(i, "customer")),
            ("POST", r"/v1/customers/([\w]+)", self._update_customer),
            ("POST", r"/v1/checkout/sessions", lambda p: (200, self._create_checkout(p))),
            ("GET", r"/v1/checkout/sessions/([\w]+)", lambda p, i: self._read(i, "checkout.session")),
            ("GET", r"/v1/subscriptions", self._list_subscriptions),
            ("GET", r"/v1/subscriptions/([\w]+)", lambda p, i: self._read(i, "subscription")),
            ("POST", r"/v1/subscriptions/([\w]+)", self._update_subscription),
            ("DELETE", r"/v1/subscriptions/([\w]+)", self._cancel_subscription),
            ("GET", r"/v1/invoices/([\w]+)", lambda p, i: self._read(i, "invoice")),
            ("GET", r"/v1/prices/([\w]+)", self._read_price),
            ("GET", r"/v1/products/([\w]+)", lambda p, i: self._read(i, "product")),
            ("GET", r"/v1/products/([\w]+)/features", lambda p, i: (200, self._list([], f"/v1/products/{i}/features"))),
            ("POST", r"/v1/billing_portal/sessions", lambda p: (200, self._create_portal(p))),
            ("GET", r"/v1/events", lambda p: (200, self._list(list(reversed(self.events)), "/v1/events"))),
            ("GET", r"/v1/events/([\w]+)", self._read_event),
        ]

    @staticmethod
    def _list(data: list, url: str) -> dict[str, Any]:
        return {"object": "list", "data": data, "has_more": False, "url": url}

    def _missing(self, object_id: str, kind: str) -> tuple[int, dict]:
        error = fixture("error_resource_missing")
        error["error"]["message"] = f"No such {kind}: '{object_id}'"
        return 404, error

    def _read(self, object_id: str, kind: str) -> tuple[int, dict]:
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind:
            return self._missing(object_id, kind)
        return 200, copy.deepcopy(obj)

    def _read_price(self, params: dict, price_id: str) -> tuple[int, dict]:
        status, price = self._read(price_id, "price")
        expand = params.get("expand") or []
        if status == 200 and "product" in expand:
            price["product"] = self.get(price["product"])
        return status, price

    def _read_event(self, params: dict, event_id: str) -> tuple[int, dict]:
        for event in self.events:
            if event["id"] == event_id:
                return 200, copy.deepcopy(event)
        return self._missing(event_id, "event")

    def _create_customer(self, params: dict) -> dict[str, Any]:
        customer = fixture("customer")
        customer.update(
            id=self._new_id("cus"),
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata") or {},
            created=int(time.time()),
        )
        with self._lock:
            self.objects[customer["id"]] = customer
        return copy.deepcopy(customer)

    def _update_customer(self, params: dict, customer_id: str) -> tuple[int, dict]:
        status, customer = self._read(customer_id, "customer")
        if status != 200:
            return status, customer
        stored = self.objects[customer_id]
        stored["metadata"] = {**stored.get("metadata", {}), **(params.get("metadata") or {})}
        for key in ("email", "name"):
            if key in params:
                stored[key] = params[key]
        return 200, copy.deepcopy(stored)

    def _create_checkout(self, params: dict) -> dict[str, Any]:
        session = fixture("checkout_session")
        session_id = f"cs_test_{secrets.token_hex(12)}"
        session.update(
            id=session_id,
            mode=params.get("mode"),
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            metadata=params.get("metadata") or {},
            client_reference_id=params.get("client_reference_id"),
            customer=params.get("customer"),
            customer_email=params.get("customer_email"),
            created=int(time.time()),
            expires_at=int(time.time()) + 86400,
            url=f"{self.url}/pay/{session_id}",
        )
        session["_line_items"] = params.get("line_items") or []
        session["_subscription_data"] = params.get("subscription_data") or {}
        with self._lock:
            self.objects[session_id] = session
        public = copy.deepcopy(session)
        public.pop("_line_items"), public.pop("_subscription_data")
        return public

    def complete_checkout(self, session_id: str, *, payment_status: str = "paid") -> dict[str, Any]:
        """Do what a customer paying on the Checkout page makes Stripe do; return the completed session."""
        with self._lock:
            session = self.objects[session_id]
            price_id = session["_line_items"][0]["price"]
            customer_id = session["customer"] or self._create_customer({"email": session["customer_email"]})["id"]
            sub = self.add_subscription(
                customer_id=customer_id,
                price_id=price_id,
                status="active" if payment_status == "paid" else "incomplete",
                metadata=session["_subscription_data"].get("metadata") or {},
            )
            session.update(
                customer=customer_id, subscription=sub["id"], status="complete", payment_status=payment_status
            )
            public = copy.deepcopy(session)
        public.pop("_line_items"), public.pop("_subscription_data")
        return public

    def _update_subscription(self, params: dict, sub_id: str) -> tuple[int, dict]:
        status, _ = self._read(sub_id, "subscription")
        if status != 200:
            return self._missing(sub_id, "subscription")
        sub = self.objects[sub_id]
        if sub["status"] == "canceled":
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "A canceled subscription can only update its cancellation_details and metadata.",
                }
            }
        if "cancel_at_period_end" in params:
            cancel = _bool(params["cancel_at_period_end"])
            item = sub["items"]["data"][0]
            sub.update(
                cancel_at_period_end=cancel,
                cancel_at=item["current_period_end"] if cancel else None,
                canceled_at=int(time.time()) if cancel else None,
            )
        for change in params.get("items") or []:
            item = next(i for i in sub["items"]["data"] if i["id"] == change["id"])
            status, price = self._read(change["price"], "price")
            if status != 200:
                return self._missing(change["price"], "price")
            item["price"] = price
        if "metadata" in params:
            sub["metadata"] = {**sub["metadata"], **params["metadata"]}
        return 200, copy.deepcopy(sub)

    def _cancel_subscription(self, params: dict, sub_id: str) -> tuple[int, dict]:
        status, _ = self._read(sub_id, "subscription")
        if status != 200:
            return self._missing(sub_id, "subscription")
        if self.objects[sub_id]["status"] == "canceled":
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "subscription_canceled",
                    "message": "This subscription has already been canceled.",
                }
            }
        now = int(time.time())
        self.objects[sub_id].update(status="canceled", canceled_at=now, ended_at=now, cancel_at_period_end=False)
        return 200, copy.deepcopy(self.objects[sub_id])

    def _list_subscriptions(self, params: dict) -> tuple[int, dict]:
        subs = [
            copy.deepcopy(o)
            for o in self.objects.values()
            if o.get("object") == "subscription" and o.get("customer") == params.get("customer")
        ]
        return 200, self._list(subs, "/v1/subscriptions")

    def _create_portal(self, params: dict) -> dict[str, Any]:
        session = fixture("billing_portal_session")
        session_id = self._new_id("bps")
        session.update(
            id=session_id,
            customer=params.get("customer"),
            return_url=params.get("return_url"),
            created=int(time.time()),
            url=f"{self.url}/portal/{session_id}",
        )
        with self._lock:
            self.objects[session_id] = session
        return copy.deepcopy(session)

    # -- the hosted pages: what a customer sees at Stripe -----------------
    def hosted_page(self, method: str, path: str) -> tuple[int, str, dict[str, str]]:
        """Serve the stand-in Checkout and portal pages; return (status, HTML, headers)."""
        kind, _, object_id = path.strip("/").partition("/")
        with self._lock:
            session = copy.deepcopy(self.objects.get(object_id))
        if kind == "pay" and session and session.get("object") == "checkout.session":
            if method == "POST":
                return 303, "", {"Location": self._pay(object_id)}
            return 200, _page("Pay", "<form method=post><button type=submit>Pay</button></form>"), {}
        if kind == "portal" and session:
            back = html.escape(session.get("return_url") or "/")
            return 200, _page("Billing portal", f'<a href="{back}">Return to Aragora</a>'), {}
        return 404, _page("Not found", "No such page."), {}

    def _pay(self, session_id: str) -> str:
        """Pay: complete the session, send Stripe's events to the webhook (signed), return the success URL."""
        session = self.complete_checkout(session_id)
        subscription = self.get(session["subscription"])
        for event in (
            self.event("customer.subscription.created", subscription),
            self.event("checkout.session.completed", session),
        ):
            self._send_event(event)
        return session["success_url"]

    def _send_event(self, event: dict[str, Any]) -> None:
        if self.webhook_target is None:
            return
        url, secret = self.webhook_target
        body = json.dumps(event).encode()
        timestamp = int(time.time())
        signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(  # noqa: S310 (a loopback URL the test gave)
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={signature}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            response.read()


def _page(title: str, body: str) -> str:
    head = f"<head><title>{title} · Stripe stand-in</title></head>"
    return f"<!doctype html><html>{head}<body><h1>{title}</h1>{body}</body></html>"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            pairs += parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        headers = {key.lower(): value for key, value in self.headers.items()}
        if not headers.get("authorization", "").startswith("Bearer sk_"):
            status, body = 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}}
        else:
            status, body = self.fake.handle(method, url.path, _nest(pairs), headers)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        self.send_header("Stripe-Version", headers.get("stripe-version", API_VERSION))
        self.end_headers()
        self.wfile.write(payload)

    def _serve_page(self, method: str) -> None:
        status, page, headers = self.fake.hosted_page(method, urlsplit(self.path).path)
        if method == "POST":
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.startswith(("/pay/", "/portal/")):
            self._serve_page("GET")
        else:
            self._serve("GET")

    def do_POST(self) -> None:
        if self.path.startswith("/pay/"):
            self._serve_page("POST")
        else:
            self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass
