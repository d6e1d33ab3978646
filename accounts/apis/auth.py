"""HTTP API for authentication: register, sign in, refresh, sign out, revoke, password, the caller's account."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import revocation, services, tokens
from accounts.apis.common import PASSWORD_MAX, PublicAPIView, success
from accounts.authentication import JWTAuthentication
from accounts.serializers import (
    OrganizationSerializer,
    OrganizationSummarySerializer,
    SuccessSerializer,
    TokenPairSerializer,
    UserDetailSerializer,
    UserSerializer,
)
from aragora_site.errors import ServiceError
from aragora_site.fields import StrictCharField, StrictEmailField
from aragora_site.http import bearer_credentials, client_ip
from aragora_site.schema import ERROR


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
        return success("Logged out successfully")


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
        return success("Token revoked successfully")


class RevokeAllApi(APIView):
    class InputSerializer(serializers.Serializer):
        reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="revoke_all")

    @extend_schema(request=InputSerializer, responses={200: SuccessSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revocation.revoke_all_for_user(str(request.user.id), **data.validated_data)
        return success("All tokens revoked")


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
