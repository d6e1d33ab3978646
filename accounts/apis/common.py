"""What the accounts endpoints share: the password size limit, public views, the success body."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.serializers import SuccessSerializer

PASSWORD_MAX = services.PASSWORD_MAX_LENGTH


class PublicAPIView(APIView):
    """An endpoint for anyone: no credentials are read."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


def success(message: str) -> Response:
    """Return 200 {"success": true, "message": ...}."""
    return Response(SuccessSerializer({"success": True, "message": message}).data)
