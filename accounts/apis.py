"""HTTP API for authentication, API keys and organizations. Views validate, call a service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import revocation, selectors, services, tokens
from accounts.authentication import JWTAuthentication
from accounts.models import Role
from accounts.permissions import IsOrganizationAdmin, IsOrganizationMember
from aragora_site.errors import ServiceError
from aragora_site.fields import StrictCharField, StrictEmailField
from aragora_site.http import bearer_credentials, client_ip
from aragora_site.schema import ERROR
from billing.serializers import TierLimitsSerializer

PASSWORD_MAX = services.PASSWORD_MAX_LENGTH


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()
    token_type = serializers.CharField()


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    org_id = serializers.UUIDField(source="organization_id", allow_null=True)
    role = serializers.CharField()
    is_active = serializers.BooleanField()
    has_api_key = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_login_at = serializers.DateTimeField(source="last_login", allow_null=True)


class UserDetailSerializer(UserSerializer):
    """The caller's own account: the user plus the API key's public prefix and dates (never the key)."""

    api_key_prefix = serializers.CharField(allow_null=True)
    api_key_created_at = serializers.DateTimeField(allow_null=True)
    api_key_last_used_at = serializers.DateTimeField(allow_null=True)


class OrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    tier = serializers.CharField(
        source="effective_tier", help_text="The tier in force (free once a grace period ran out)."
    )
    owner_id = serializers.UUIDField(allow_null=True)
    limits = TierLimitsSerializer()
    debates_used = serializers.IntegerField()
    debates_remaining = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    is_at_limit = serializers.BooleanField()
    period_start = serializers.DateField()
    grace_until = serializers.DateTimeField(allow_null=True, help_text="End of a grace period after a failed payment.")
    created_at = serializers.DateTimeField()


class OrganizationSummarySerializer(OrganizationSerializer):
    member_count = serializers.IntegerField(source="active_member_count")


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


def _success(message: str) -> Response:
    return Response({"success": True, "message": message})


class PublicAPIView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------
class RegisterApi(PublicAPIView):
    class InputSerializer(serializers.Serializer):
        email = StrictEmailField(max_length=254)
        password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)
        name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
        organization_name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "RegisterResponse",
                fields={
                    "user": UserSerializer(),
                    "organization": OrganizationSerializer(),
                    "access_token": serializers.CharField(),
                    "refresh_token": serializers.CharField(),
                    "expires_in": serializers.IntegerField(),
                    "token_type": serializers.CharField(),
                },
            ),
            400: ERROR,
            409: ERROR,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, pair = services.user_register_with_tokens(**data.validated_data)
        body = {
            "user": UserSerializer(user).data,
            "organization": OrganizationSerializer(user.organization).data,
            **TokenPairSerializer(pair).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class LoginApi(PublicAPIView):
    class InputSerializer(serializers.Serializer):
        email = StrictEmailField(max_length=254)
        password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: TokenPairSerializer, 401: ERROR, 429: ERROR}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_login(**data.validated_data, ip_address=client_ip(request))
        return Response(TokenPairSerializer(tokens.token_pair_for_user(user)).data)


class RefreshApi(PublicAPIView):
    class InputSerializer(serializers.Serializer):
        refresh_token = StrictCharField(max_length=4096)

    @extend_schema(request=InputSerializer, responses={200: TokenPairSerializer, 401: ERROR}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pair = tokens.rotate_refresh_token(data.validated_data["refresh_token"])
        except tokens.TokenReuseError as exc:
            raise ServiceError(
                "This refresh token was already used; every session of the account has been revoked.",
                code="refresh_token_reused",
                status=401,
            ) from exc
        if pair is None:
            raise ServiceError("The refresh token is invalid, expired or revoked.", code="invalid_token", status=401)
        return Response(TokenPairSerializer(pair).data)


class LogoutApi(APIView):
    authentication_classes = [JWTAuthentication]

    class InputSerializer(serializers.Serializer):
        refresh_token = StrictCharField(max_length=4096, required=False)

    @extend_schema(request=InputSerializer, responses={200: SuccessSerializer, 401: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload: tokens.TokenPayload = request.auth
        refresh = data.validated_data.get("refresh_token")
        if refresh:
            services.token_revoke(token=refresh, reason="logout", acting_user_id=payload.user_id, acting_is_staff=False)
        services.token_revoke(
            token=bearer_credentials(request),
            reason="logout",
            acting_user_id=payload.user_id,
            acting_is_staff=False,
        )
        return _success("Logged out successfully")


class RevokeApi(APIView):
    class InputSerializer(serializers.Serializer):
        token = StrictCharField(max_length=4096)
        reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="manual_revocation")

    @extend_schema(request=InputSerializer, responses={200: SuccessSerializer, 400: ERROR, 403: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_revoke(
            **data.validated_data, acting_user_id=request.user.id, acting_is_staff=request.user.db_user.is_staff
        )
        return _success("Token revoked successfully")


class RevokeAllApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="revoke_all")

    @extend_schema(request=InputSerializer, responses={200: SuccessSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revocation.revoke_all_for_user(str(request.user.id), **data.validated_data)
        return _success("All tokens revoked")


class PasswordChangeApi(APIView):
    authentication_classes = [JWTAuthentication]

    class InputSerializer(serializers.Serializer):
        old_password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)
        new_password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: TokenPairSerializer, 400: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.user_change_password(user=request.user.db_user, **data.validated_data)
        return Response(TokenPairSerializer(pair).data)


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        user = UserDetailSerializer()
        organization = OrganizationSummarySerializer(allow_null=True)
        auth_method = serializers.ChoiceField(choices=["access", "api_key"])

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        user = request.user.db_user
        body = {"user": user, "organization": user.organization, "auth_method": request.user.auth_method}
        return Response(self.OutputSerializer(body).data)


class ApiKeyInfoSerializer(serializers.Serializer):
    has_api_key = serializers.BooleanField()
    prefix = serializers.CharField(source="api_key_prefix", allow_null=True)
    created_at = serializers.DateTimeField(source="api_key_created_at", allow_null=True)
    last_used_at = serializers.DateTimeField(source="api_key_last_used_at", allow_null=True)


class ApiKeyApi(APIView):
    class CreatedSerializer(ApiKeyInfoSerializer):
        api_key = serializers.CharField(help_text="The key itself: shown this once only.")
        message = serializers.CharField()

    @extend_schema(responses={200: ApiKeyInfoSerializer})
    def get(self, request: Request) -> Response:
        return Response(ApiKeyInfoSerializer(request.user.db_user).data)

    @extend_schema(request=None, responses={201: CreatedSerializer})
    def post(self, request: Request) -> Response:
        user = request.user.db_user
        key = services.api_key_rotate(user=user)
        body = ApiKeyInfoSerializer(user).data | {
            "api_key": key,
            "message": "Store this key now: it is not shown again.",
        }
        return Response(self.CreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SuccessSerializer})
    def delete(self, request: Request) -> Response:
        services.api_key_revoke(user=request.user.db_user)
        return _success("API key revoked")


# ---------------------------------------------------------------------------
# Organization
# ---------------------------------------------------------------------------
class OrganizationApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    @extend_schema(responses={200: OrganizationSummarySerializer, 403: ERROR})
    def get(self, request: Request) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        return Response(OrganizationSummarySerializer(org).data)


class MembersApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    class InputSerializer(serializers.Serializer):
        email = StrictEmailField(max_length=254)
        name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
        password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)
        role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    def get_permissions(self) -> list:
        if self.request.method == "POST":
            return [IsAuthenticated(), IsOrganizationAdmin()]
        return super().get_permissions()

    @extend_schema(responses={200: UserSerializer(many=True)})
    def get(self, request: Request) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        return Response(UserSerializer(selectors.organization_members(organization=org), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: UserSerializer, 403: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = selectors.organization_for_caller(caller=request.user)
        member = services.organization_member_add(organization=org, **data.validated_data)
        return Response(UserSerializer(member).data, status=status.HTTP_201_CREATED)


class MemberApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    @extend_schema(request=None, responses={200: SuccessSerializer, 404: ERROR})
    def delete(self, request: Request, user_id: Any) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        services.organization_member_remove(organization=org, user_id=user_id, acting_user_id=request.user.id)
        return _success("Member removed")
