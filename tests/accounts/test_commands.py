import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import jwt_auth
from accounts.models import Organization, RevokedToken, User


@pytest.mark.django_db
def test_bootstrap_demo_creates_a_staff_user_and_is_idempotent(monkeypatch, capsys):
    monkeypatch.setenv("ARAGORA_ADMIN_EMAIL", "ops@example.com")
    monkeypatch.setenv("ARAGORA_ADMIN_PASSWORD", "ops-password-123")
    call_command("bootstrap_demo")
    call_command("bootstrap_demo")
    user = User.objects.get(email="ops@example.com")
    assert user.is_staff and user.is_superuser and user.verify_password("ops-password-123")
    assert Organization.objects.filter(slug="demo").count() == 1
    assert "ops@example.com" in capsys.readouterr().out


@pytest.mark.django_db
def test_auth_cleanup_command_drops_expired_revocations(capsys):
    jwt_auth.revoke_token(token_jti="gone", reason="x", expires_at=timezone.now() - timezone.timedelta(days=1))
    jwt_auth.revoke_token(token_jti="kept", reason="x")
    call_command("auth_cleanup")
    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["kept"]
    assert "revoked_tokens: 1" in capsys.readouterr().out
