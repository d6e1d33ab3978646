"""Property-based fuzzing of the whole HTTP API from its OpenAPI schema (schemathesis).

Every generated request, valid or not, with and without credentials, must get a documented status code and a
response matching the schema: never a 5xx.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts import tokens

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: requests must not close the connection that holds the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(org_admin):
    return {"Authorization": f"Bearer {tokens.token_pair_for_user(org_admin).access_token}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_matches_its_schema(case, bearer, fake_stripe, smtp_server):
    # Not checked here: `positive_data_acceptance` (the schema cannot express the password rules) and
    # `ignored_auth` (endpoints take either of two schemes, so a valid bearer stays beside a dropped key);
    # missing and invalid credentials have their own tests per endpoint.
    case.call_and_validate(
        headers=bearer,
        excluded_checks=[schemathesis.checks.positive_data_acceptance, schemathesis.checks.ignored_auth],
    )
