"""HTTP API for authentication, API keys and organizations. Views validate, call a service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import jwt_auth, selectors, services
from accounts.authentication import JWTAuthentication
from accounts.models import Role
from accounts.permissions import IsOrganizationAdmin, IsOrganizationMember
from aragora_site.fields import StrictCharField, StrictEmailField
from aragora_site.schema import ErrorSerializer

PASSWORD_MAX = 1024  # refuse huge passwords before hashing them

ERROR = ErrorSerializer  # the error body every endpoint documents


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    expires_in = serializers.IntegerField()
    token_type = serializers.CharField()


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    org_id = serializers.UUIDField(allow_null=True)
    role = serializers.CharField()
    is_active = serializers.BooleanField()
    has_api_key = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_login_at = serializers.DateTimeField(allow_null=True)


class OrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    tier = serializers.CharField()
    owner_id = serializers.UUIDField(allow_null=True)
    limits = serializers.DictField()
    debates_used = serializers.IntegerField()
    debates_remaining = serializers.IntegerField(allow_null=True)
    is_at_limit = serializers.BooleanField()
    period_start = serializers.DateField()
    created_at = serializers.DateTimeField()
    member_count = serializers.IntegerField(required=False)


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
        user = services.user_register(**data.validated_data)
        pair = jwt_auth.token_pair_for_user(user)
        body = {"user": user.to_dict(), "organization": user.organization.to_dict(), **pair.to_dict()}
        return Response(body, status=status.HTTP_201_CREATED)


class LoginApi(PublicAPIView):
    class InputSerializer(serializers.Serializer):
        email = StrictEmailField(max_length=254)
        password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: TokenPairSerializer, 401: ERROR, 429: ERROR}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_login(**data.validated_data, ip_address=services.client_ip(request))
        return Response(jwt_auth.token_pair_for_user(user).to_dict())


class RefreshApi(PublicAPIView):
    class InputSerializer(serializers.Serializer):
        refresh_token = StrictCharField(max_length=4096)

    @extend_schema(request=InputSerializer, responses={200: TokenPairSerializer, 401: ERROR}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pair = jwt_auth.rotate_refresh_token(data.validated_data["refresh_token"])
        except jwt_auth.TokenReuseError as exc:
            raise services.ServiceError(
                "This refresh token was already used; every session of the account has been revoked.",
                code="refresh_token_reused",
                status=401,
            ) from exc
        if pair is None:
            raise services.ServiceError(
                "The refresh token is invalid, expired or revoked.", code="invalid_token", status=401
            )
        return Response(pair.to_dict())


class LogoutApi(APIView):
    authentication_classes = [JWTAuthentication]

    class InputSerializer(serializers.Serializer):
        refresh_token = StrictCharField(max_length=4096, required=False)

    @extend_schema(request=InputSerializer, responses={200: SuccessSerializer, 401: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload: jwt_auth.TokenPayload = request.auth
        refresh = data.validated_data.get("refresh_token")
        if refresh:
            services.token_revoke(token=refresh, reason="logout", acting_user_id=payload.user_id, acting_is_staff=False)
        services.token_revoke(
            token=request.headers["Authorization"].split(" ", 1)[1].strip(),
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
        jwt_auth.TokenBlacklist.get_instance().revoke_all_for_user(str(request.user.id), **data.validated_data)
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
        return Response(pair.to_dict())


class MeApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Me", fields={"user": UserSerializer(), "organization": OrganizationSerializer(allow_null=True)}
            )
        }
    )
    def get(self, request: Request) -> Response:
        user = request.user.db_user
        org = user.organization
        return Response(
            {
                "user": user.to_dict(include_sensitive=True),
                "organization": selectors.organization_summary(organization=org) if org else None,
                "auth_method": request.user.auth_method,
            }
        )


class ApiKeyApi(APIView):
    KeyInfo = inline_serializer(
        "ApiKeyInfo",
        fields={
            "has_api_key": serializers.BooleanField(),
            "prefix": serializers.CharField(allow_null=True),
            "created_at": serializers.DateTimeField(allow_null=True),
            "last_used_at": serializers.DateTimeField(allow_null=True),
        },
    )

    @staticmethod
    def _info(user: Any) -> dict[str, Any]:
        return {
            "has_api_key": user.has_api_key,
            "prefix": user.api_key_prefix,
            "created_at": user.api_key_created_at,
            "last_used_at": user.api_key_last_used_at,
        }

    @extend_schema(responses={200: KeyInfo})
    def get(self, request: Request) -> Response:
        return Response(self._info(request.user.db_user))

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "ApiKeyCreated",
                fields={"api_key": serializers.CharField(), "prefix": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        user = request.user.db_user
        key = services.api_key_rotate(user=user)
        body = {"api_key": key, **self._info(user), "message": "Store this key now: it is not shown again."}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SuccessSerializer})
    def delete(self, request: Request) -> Response:
        services.api_key_revoke(user=request.user.db_user)
        return _success("API key revoked")


# ---------------------------------------------------------------------------
# Organization
# ---------------------------------------------------------------------------
class OrganizationApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationMember]

    @extend_schema(responses={200: OrganizationSerializer, 403: ERROR})
    def get(self, request: Request) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        return Response(selectors.organization_summary(organization=org))


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
        return Response([m.to_dict() for m in selectors.organization_members(organization=org)])

    @extend_schema(request=InputSerializer, responses={201: UserSerializer, 403: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = selectors.organization_for_caller(caller=request.user)
        member = services.organization_member_add(organization=org, **data.validated_data)
        return Response(member.to_dict(), status=status.HTTP_201_CREATED)


class MemberApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    @extend_schema(request=None, responses={200: SuccessSerializer, 404: ERROR})
    def delete(self, request: Request, user_id: Any) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        services.organization_member_remove(organization=org, user_id=user_id, acting_user_id=request.user.id)
        return _success("Member removed")
