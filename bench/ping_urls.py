"""Two do-nothing endpoints for the authentication benchmark: one public, one that needs a signed-in caller."""

from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class PublicPing(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class AuthPing(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True, "org": request.user.org_id})


urlpatterns = [path("ping/public", PublicPing.as_view()), path("ping/auth", AuthPing.as_view())]
