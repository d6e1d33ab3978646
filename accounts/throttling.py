"""Sign-in throttling as OWASP's authentication guidance describes it, shared by every worker (rows in the database).

Failures are counted in three places, each with its own limit over a rolling window:

* per (account, address) pair: a few free failures, then a growing delay before each further try;
* per account: a higher limit, after which only addresses that have not been failing on it may try, so an
  attacker spread over many addresses is stopped while the owner still gets in;
* per address: a much higher limit, for one address guessing across many accounts.

Each attempt reserves its slot with a conditional UPDATE before the password is checked, so concurrent tries
can never check more passwords than the limits allow. A success gives the reservation back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.models import LoginThrottle
from aragora_site.errors import ServiceError

PAIR, ACCOUNT, ADDRESS = LoginThrottle.Scope.PAIR, LoginThrottle.Scope.ACCOUNT, LoginThrottle.Scope.ADDRESS
_CAS_TRIES = 8


class LoginThrottled(ServiceError):
    """Too many failed sign-ins; `retry_after` says when to try again (seconds)."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed sign-ins; try again later.", code="too_many_attempts")
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Attempt:
    """The slots a sign-in attempt reserved; hand it back to `login_attempt_end`."""

    keys: tuple[tuple[str, str], ...]


def _window() -> timedelta:
    return timedelta(minutes=settings.ARAGORA_LOGIN_WINDOW_MINUTES)


def _row(scope: str, key: str, now: datetime) -> LoginThrottle:
    """Return the counter, started afresh when its window has passed."""
    LoginThrottle.objects.get_or_create(scope=scope, key=key, defaults={"window_started_at": now})
    LoginThrottle.objects.filter(scope=scope, key=key, window_started_at__lte=now - _window()).update(
        failures=0, window_started_at=now, last_failure_at=None
    )
    return LoginThrottle.objects.get(scope=scope, key=key)


def _until_window_ends(row: LoginThrottle, now: datetime) -> int:
    return math.ceil((row.window_started_at + _window() - now).total_seconds())


def pair_delay(failures: int) -> timedelta:
    """Return how long after its last failure a pair with `failures` may try again (0 under the free limit)."""
    extra = failures - settings.ARAGORA_LOGIN_PAIR_FAILURES
    if extra < 0:
        return timedelta(0)
    return min(timedelta(seconds=settings.ARAGORA_LOGIN_PAIR_DELAY_SECONDS * 2**extra), _window())


def _reserve_pair(key: str, now: datetime) -> int:
    """Take one of the pair's slots; return its failures before this attempt (as read)."""
    free = settings.ARAGORA_LOGIN_PAIR_FAILURES
    for _ in range(_CAS_TRIES):
        row = _row(PAIR, key, now)
        if row.failures < free:  # a free slot: one conditional UPDATE, concurrent tries cannot overshoot
            taken = LoginThrottle.objects.filter(pk=row.pk, failures__lt=free)
            if taken.update(failures=F("failures") + 1, last_failure_at=now):
                return row.failures
            continue
        wait = row.last_failure_at + pair_delay(row.failures) - now if row.last_failure_at else timedelta(0)
        if wait > timedelta(0):
            raise LoginThrottled(math.ceil(wait.total_seconds()))
        # The delay has passed: one try, and the count as read decides which concurrent try it is.
        taken = LoginThrottle.objects.filter(pk=row.pk, failures=row.failures)
        if taken.update(failures=F("failures") + 1, last_failure_at=now):
            return row.failures
    raise LoginThrottled(1)  # others are trying this pair right now


def _reserve_up_to(scope: str, key: str, limit: int, now: datetime) -> None:
    row = _row(scope, key, now)
    if not LoginThrottle.objects.filter(pk=row.pk, failures__lt=limit).update(failures=F("failures") + 1):
        raise LoginThrottled(_until_window_ends(row, now))


def _release(scope: str, key: str) -> None:
    LoginThrottle.objects.filter(scope=scope, key=key, failures__gt=0).update(failures=F("failures") - 1)


def login_attempt_begin(*, email: str, ip_address: str | None) -> Attempt:
    """Reserve a sign-in attempt for this account from this address, or raise LoginThrottled (429)."""
    now = timezone.now()
    address = ip_address or "unknown"
    reserved: list[tuple[str, str]] = []
    try:
        _reserve_up_to(ADDRESS, address, settings.ARAGORA_LOGIN_ADDRESS_FAILURES, now)
        reserved.append((ADDRESS, address))
        pair_key = f"{email}|{address}"
        failures_here = _reserve_pair(pair_key, now)
        reserved.append((PAIR, pair_key))
        account = _row(ACCOUNT, email, now)
        if account.failures >= settings.ARAGORA_LOGIN_ACCOUNT_FAILURES and failures_here > 0:
            raise LoginThrottled(_until_window_ends(account, now))
        LoginThrottle.objects.filter(pk=account.pk).update(failures=F("failures") + 1)
        reserved.append((ACCOUNT, email))
    except LoginThrottled:
        for scope, key in reserved:
            _release(scope, key)
        raise
    return Attempt(keys=tuple(reserved))


def login_attempt_end(attempt: Attempt, *, succeeded: bool) -> None:
    """Keep the failure counted, or, on success, give the reservation back and clear the pair's record."""
    if not succeeded:
        return
    for scope, key in attempt.keys:
        if scope == PAIR:
            LoginThrottle.objects.filter(scope=scope, key=key).update(failures=0, last_failure_at=None)
        else:
            _release(scope, key)


def login_throttles_cleanup() -> int:
    """Delete counters whose window has passed (they would start afresh anyway); return how many."""
    return LoginThrottle.objects.filter(window_started_at__lte=timezone.now() - _window()).delete()[0]
