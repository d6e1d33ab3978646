"""Sign-in throttling: per (account, address) with growing delays, per account, per address; atomic; the same
throttle for the API, the admin's sign-in and the pages' sign-in."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

WRONG = "not-the-password"


def _login(email: str, password: str, address: str = "127.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post("/api/auth/login", {"email": email, "password": password}, format="json")


@pytest.mark.django_db
def test_an_account_and_address_pair_gets_growing_delays_after_five_failures(org_admin):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert [_login(org_admin.email, WRONG).status_code for _ in range(5)] == [401] * 5
        blocked = _login(org_admin.email, PASSWORD)
        assert blocked.status_code == 429 and blocked.json()["code"] == "too_many_attempts"
        assert int(blocked["Retry-After"]) == 60
        clock.shift(timedelta(seconds=61))
        assert _login(org_admin.email, WRONG).status_code == 401  # one more try, then a longer wait
        assert int(_login(org_admin.email, PASSWORD)["Retry-After"]) == 120
        clock.shift(timedelta(seconds=121))
        assert _login(org_admin.email, PASSWORD).status_code == 200


@pytest.mark.django_db
def test_the_owner_signs_in_from_another_address_while_one_address_is_held_back(org_admin):
    for _ in range(6):
        _login(org_admin.email, WRONG, "203.0.113.9")
    assert _login(org_admin.email, PASSWORD, "203.0.113.9").status_code == 429
    assert _login(org_admin.email, PASSWORD, "198.51.100.7").status_code == 200


@pytest.mark.django_db
def test_failures_of_one_colleague_do_not_lock_out_the_office(org, org_admin):
    colleague = UserFactory(organization=org)
    for _ in range(8):
        _login(colleague.email, WRONG, "192.0.2.1")
    assert _login(org_admin.email, PASSWORD, "192.0.2.1").status_code == 200


@pytest.mark.django_db
def test_a_guessed_account_only_lets_addresses_without_failures_on_it_try(org_admin, settings):
    settings.ARAGORA_LOGIN_ACCOUNT_FAILURES = 20
    for i in range(20):  # a distributed guess: one failure from each of 20 addresses
        assert _login(org_admin.email, WRONG, f"10.1.0.{i}").status_code == 401
    assert _login(org_admin.email, PASSWORD, "10.1.0.3").status_code == 429  # it failed here before
    assert _login(org_admin.email, WRONG, "10.2.0.1").status_code == 401  # a fresh address still gets one try
    assert _login(org_admin.email, PASSWORD, "10.2.0.1").status_code == 429
    assert _login(org_admin.email, PASSWORD, "10.3.0.1").status_code == 200  # the owner, from home


@pytest.mark.django_db
def test_one_address_guessing_across_many_accounts_is_stopped(org_admin, settings):
    settings.ARAGORA_LOGIN_ADDRESS_FAILURES = 30
    for i in range(30):
        assert _login(f"victim{i}@example.com", WRONG, "10.9.9.9").status_code == 401
    res = _login(org_admin.email, PASSWORD, "10.9.9.9")
    assert res.status_code == 429 and int(res["Retry-After"]) > 0
    assert _login(org_admin.email, PASSWORD, "10.9.9.10").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_check_no_more_passwords_than_the_limit(org_admin):
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def guess() -> None:
        barrier.wait()
        statuses.append(_login(org_admin.email, WRONG).status_code)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 15  # each 401 is a password checked


@pytest.mark.django_db
def test_the_admin_and_the_pages_share_the_apis_throttle(org_admin):
    staff = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(3):
        _login(staff.email, WRONG)
    admin_browser = Client()
    for _ in range(2):
        page = admin_browser.post("/admin/login/", {"username": staff.email, "password": WRONG})
        assert page.status_code == 200 and "Invalid e-mail or password." in page.content.decode()
    held = admin_browser.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert held.status_code == 429 and int(held["Retry-After"]) == 60
    assert "Too many failed sign-ins" in held.content.decode()

    for _ in range(5):
        Client().post("/accounts/login/", {"username": org_admin.email, "password": WRONG})
    page = Client().post("/accounts/login/", {"username": org_admin.email, "password": PASSWORD})
    assert page.status_code == 429 and page["Retry-After"]
    assert _login(org_admin.email, PASSWORD).status_code == 429


@pytest.mark.django_db
def test_the_admin_refuses_a_correct_password_of_a_non_staff_user(org_admin):
    page = Client().post("/admin/login/", {"username": org_admin.email, "password": PASSWORD})
    assert page.status_code == 200 and "staff account" in page.content.decode()
