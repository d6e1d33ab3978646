"""HTTP API for API keys: the caller's named keys (/api/auth/api-keys) and the seed's single "default" key
(/api/auth/api-key). A key is shown once, in the answer that creates it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.apis.common import success
from accounts.authentication import JWTAuthentication
from accounts.models import ApiKey
from accounts.serializers import ApiKeySerializer, SuccessSerializer
from aragora_site.fields import NoUnknownFieldsMixin, StrictCharField, StrictDateTimeField
from aragora_site.schema import ERROR

_SHOWN_ONCE = "Store this key now: it is not shown again."


class ApiKeysApi(APIView):
    """The caller's named keys. Managing keys needs an access token: a key cannot list or mint keys."""

    authentication_classes = [JWTAuthentication]

    class InputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
        name = StrictCharField(max_length=100, help_text="1 to 100 printable characters, unique among live keys.")
        expires_at = StrictDateTimeField(
            required=False, allow_null=True, default=None, help_text="Optional; in the future, at most 366 days."
        )

    class CreatedSerializer(ApiKeySerializer):
        api_key = serializers.CharField(help_text="The key itself: shown this once only.")
        message = serializers.CharField()

    @extend_schema(responses={200: ApiKeySerializer(many=True), 401: ERROR})
    def get(self, request: Request) -> Response:
        keys = selectors.api_keys_live(user_id=request.user.id)
        return Response(ApiKeySerializer(keys, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer, 400: ERROR, 403: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, key = services.api_key_create(user=request.user.db_user, **data.validated_data)
        body = ApiKeySerializer(row).data | {"api_key": key, "message": _SHOWN_ONCE}
        return Response(self.CreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(APIView):
    authentication_classes = [JWTAuthentication]

    @extend_schema(request=None, responses={200: SuccessSerializer, 401: ERROR, 404: ERROR})
    def delete(self, request: Request, key_id: Any) -> Response:
        services.api_key_revoke(user=request.user.db_user, key_id=key_id)
        return success("API key revoked")


# ---------------------------------------------------------------------------
# The seed's single key: the key named "default"
# ---------------------------------------------------------------------------
class ApiKeyInfoSerializer(serializers.Serializer):
    has_api_key = serializers.BooleanField(help_text='The caller has a live key named "default".')
    prefix = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


def _default_key_info(key: ApiKey | None) -> dict[str, Any]:
    if key is None:
        return {"has_api_key": False, "prefix": None, "created_at": None, "last_used_at": None}
    return {"has_api_key": True, "prefix": key.prefix, "created_at": key.created_at, "last_used_at": key.last_used_at}


class ApiKeyApi(APIView):
    """The key named "default": describe it, replace it (201, shown once), revoke it. Other keys are untouched."""

    class CreatedSerializer(ApiKeyInfoSerializer):
        api_key = serializers.CharField(help_text="The key itself: shown this once only.")
        message = serializers.CharField()

    @extend_schema(responses={200: ApiKeyInfoSerializer})
    def get(self, request: Request) -> Response:
        key = selectors.api_key_default(user_id=request.user.id)
        return Response(ApiKeyInfoSerializer(_default_key_info(key)).data)

    @extend_schema(request=None, responses={201: CreatedSerializer, 403: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        key = services.api_key_rotate(user=request.user.db_user)
        info = _default_key_info(selectors.api_key_default(user_id=request.user.id))
        body = self.CreatedSerializer(info | {"api_key": key, "message": _SHOWN_ONCE}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SuccessSerializer})
    def delete(self, request: Request) -> Response:
        services.api_key_revoke(user=request.user.db_user)
        return success("API key revoked")
