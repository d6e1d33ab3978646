"""Stripe reads kept out of database transactions: a webhook's GETs are made before its transaction opens.

`configure_transport()` (in `billing.stripe_client`) wraps stripe-python's HTTP client once in
`ReadGuardedHTTPClient`; while a `StripeReads` is active, that client answers reads from memory inside the
transaction and defers any other read until the transaction has rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import stripe

T = TypeVar("T")


class StripeReadDeferred(Exception):
    """Raised instead of calling Stripe while the webhook's transaction is open: make the read first, then retry."""

    def __init__(self, request: tuple[str, str, dict[str, str], int | None]) -> None:
        super().__init__(f"{request[0].upper()} {request[1]}")
        self.request = request


class StripeWriteInTransaction(RuntimeError):
    """A mutating Stripe call was attempted while the webhook's transaction is open."""


class StripeReads:
    """The Stripe GETs of one webhook delivery: made outside its transaction, answered from memory inside it.

    While `holding_transaction()` is active, a GET that was already made is answered with the response Stripe
    gave; any other GET raises `StripeReadDeferred` (the transaction rolls back, `make()` performs it, and the
    transaction is tried again), and anything else raises `StripeWriteInTransaction`. So no Stripe request is
    ever in flight while the database write lock (SQLite) or the event's row locks (PostgreSQL) are held.
    """

    def __init__(self) -> None:
        self.responses: dict[tuple, tuple[Any, int, Any]] = {}
        self.in_transaction = False
        self.deferred: list[StripeReadDeferred] = []

    @staticmethod
    def _key(method: str, url: str, headers: Mapping[str, str]) -> tuple:
        return (method.lower(), url, headers.get("Stripe-Account"), headers.get("Stripe-Version"))

    def __enter__(self) -> StripeReads:
        self._token = _active_reads.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _active_reads.reset(self._token)

    @contextmanager
    def holding_transaction(self) -> Iterator[None]:
        self.in_transaction, self.deferred = True, []
        try:
            yield
        finally:
            self.in_transaction = False

    def raise_deferred(self) -> None:
        """Raise a read deferred during the transaction even if the code that asked for it swallowed the error.

        Call it last inside the transaction: dj-stripe catches every exception around some of its reads (product
        features, invoice lines), and their results must not be silently missing from what commits.
        """
        if self.deferred:
            raise self.deferred[0]

    def run(self, operation: Callable[[], T], *, attempts: int = 8) -> T:
        """Run `operation` (which opens the transaction) until it needs no Stripe read it has not got yet."""
        for _ in range(attempts):
            try:
                with self.holding_transaction():
                    return operation()
            except Exception:
                # Whatever failed (dj-stripe turns some failed reads into errors of its own), a read that was
                # refused inside the transaction is made, and the operation tried again.
                if not self.deferred:
                    raise
            for deferred in self.deferred:
                self.make(deferred)
        raise RuntimeError(f"Still reading from Stripe after {attempts} attempts.")

    def make(self, deferred: StripeReadDeferred) -> None:
        """Perform a read that was deferred, outside any transaction, and keep its response."""
        method, url, headers, retries = deferred.request
        _guarded_http_client().request_with_retries(method, url, headers, None, max_network_retries=retries)


_active_reads: ContextVar[StripeReads | None] = ContextVar("stripe_reads", default=None)


def stripe_reads_outside_transactions(operation: Callable[[], T]) -> T:
    """Run `operation` so that the Stripe reads it makes inside its transaction happen before it (if reads are kept)."""
    reads = _active_reads.get()
    return reads.run(operation) if reads is not None else operation()


def _guarded_http_client() -> ReadGuardedHTTPClient:
    client = stripe.default_http_client
    if not isinstance(client, ReadGuardedHTTPClient):
        client = stripe.default_http_client = ReadGuardedHTTPClient(client or stripe.new_default_http_client())
    return client


class ReadGuardedHTTPClient:
    """stripe-python's HTTP client, consulting the active `StripeReads` (if any) before each request."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def request_with_retries(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        **kwargs: Any,
    ) -> tuple[Any, int, Any]:
        reads = _active_reads.get()
        if reads is None:
            return self._inner.request_with_retries(method, url, headers, post_data, max_network_retries, **kwargs)
        key = reads._key(method, url, headers)
        if reads.in_transaction:
            if key in reads.responses:
                return reads.responses[key]
            if key[0] != "get":
                raise StripeWriteInTransaction(f"{method.upper()} {url} inside a webhook's transaction")
            reads.deferred.append(StripeReadDeferred((method, url, dict(headers), max_network_retries)))
            raise reads.deferred[-1]
        response = self._inner.request_with_retries(method, url, headers, post_data, max_network_retries, **kwargs)
        if key[0] == "get":
            reads.responses[key] = response
        return response
