"""HTTP API for invitations: admins invite, list and revoke; the invitee accepts with the e-mailed token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.apis.common import PASSWORD_MAX, PublicAPIView, success
from accounts.models import Role
from accounts.permissions import IsOrganizationAdmin
from accounts.serializers import (
    InvitationSerializer,
    OrganizationSerializer,
    SuccessSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from aragora_site.fields import NoUnknownFieldsMixin, StrictCharField, StrictEmailField
from aragora_site.schema import ERROR


class InvitationsApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    class InputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
        email = StrictEmailField(max_length=254)
        role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    @extend_schema(responses={200: InvitationSerializer(many=True)})
    def get(self, request: Request) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        return Response(InvitationSerializer(selectors.invitations_pending(organization=org), many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: InvitationSerializer, 400: ERROR, 403: ERROR, 409: ERROR, 503: ERROR},
        description="E-mails a link that lets the invitee create their account; inviting an address again "
        "replaces its open invitation (and link). The token is never in the answer.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = selectors.organization_for_caller(caller=request.user)
        invitation = services.invitation_create(
            organization=org, invited_by=request.user.db_user, **data.validated_data
        )
        invitation.refresh_from_db()  # the e-mail went out after commit: show whether it was sent
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationApi(APIView):
    permission_classes = [IsAuthenticated, IsOrganizationAdmin]

    @extend_schema(request=None, responses={200: SuccessSerializer, 404: ERROR})
    def delete(self, request: Request, invitation_id: Any) -> Response:
        org = selectors.organization_for_caller(caller=request.user)
        services.invitation_revoke(organization=org, invitation_id=invitation_id)
        return success("Invitation revoked")


class InvitationAcceptApi(PublicAPIView):
    """Anyone holding the e-mailed token: no credentials."""

    class InputSerializer(NoUnknownFieldsMixin, serializers.Serializer):
        token = StrictCharField(max_length=200, trim_whitespace=True)
        name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
        password = StrictCharField(max_length=PASSWORD_MAX, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "InvitationAcceptResponse",
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
            403: ERROR,
            409: ERROR,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, pair = services.invitation_accept_with_tokens(**data.validated_data)
        body = {
            "user": UserSerializer(user).data,
            "organization": OrganizationSerializer(user.organization).data,
            **TokenPairSerializer(pair).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)
