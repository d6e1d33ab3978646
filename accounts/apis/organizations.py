"""HTTP API for the caller's organization and its members: read, add (legacy), remove, change role."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.apis.common import PASSWORD_MAX, success
from accounts.models import Role
from accounts.permissions import IsOrganizationAdmin, IsOrganizationMember
from accounts.serializers import OrganizationSummarySerializer, SuccessSerializer, UserSerializer
from aragora_site.fields import NoUnknownFieldsMixin, StrictCharField, StrictEmailField
from aragora_site.schema import ERROR


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

    @extend_schema(
        request=InputSerializer,
        responses={201: UserSerializer, 403: ERROR, 409: ERROR},
        description="Kept for existing clients: the admin sets the member's password. Prefer invitations "
        "(POST /api/org/invitations), which let the member choose their own.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = selectors.organization_for_caller(caller=request.user)
        member = services.organization_member_add(organization=org, **data.validated_data)
        return Response(UserSerializer(member).data, status=status.HTTP_201_CREATED)


class MemberApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    class InputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(request=InputSerializer, responses={200: UserSerializer, 400: ERROR, 404: ERROR})
    def patch(self, request: Request, user_id: Any) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = selectors.organization_for_caller(caller=request.user)
        member = services.organization_member_role_change(
            organization=org, user_id=user_id, role=data.validated_data["role"], acting_user=request.user
        )
        return Response(UserSerializer(member).data)

    @extend_schema(request=None, responses={200: SuccessSerializer, 404: ERROR})
    def delete(self, request: Request, user_id: Any) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        services.organization_member_remove(organization=org, user_id=user_id, acting_user_id=request.user.id)
        return success("Member removed")
