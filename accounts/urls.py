from django.urls import path

from accounts.apis import api_keys, auth, invitations, organizations

urlpatterns = [
    path("auth/register", auth.RegisterApi.as_view(), name="auth-register"),
    path("auth/login", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", auth.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/revoke", auth.RevokeApi.as_view(), name="auth-revoke"),
    path("auth/revoke-all", auth.RevokeAllApi.as_view(), name="auth-revoke-all"),
    path("auth/password", auth.PasswordChangeApi.as_view(), name="auth-password"),
    path("auth/me", auth.MeApi.as_view(), name="auth-me"),
    path("auth/api-key", api_keys.ApiKeyApi.as_view(), name="auth-api-key"),
    path("auth/api-keys", api_keys.ApiKeysApi.as_view(), name="auth-api-keys"),
    path("auth/api-keys/<uuid:key_id>", api_keys.ApiKeyRevokeApi.as_view(), name="auth-api-key-revoke"),
    path("org", organizations.OrganizationApi.as_view(), name="org"),
    path("org/members", organizations.MembersApi.as_view(), name="org-members"),
    path("org/members/<uuid:user_id>", organizations.MemberApi.as_view(), name="org-member"),
    path("org/invitations", invitations.InvitationsApi.as_view(), name="org-invitations"),
    path("org/invitations/accept", invitations.InvitationAcceptApi.as_view(), name="org-invitation-accept"),
    path("org/invitations/<uuid:invitation_id>", invitations.InvitationApi.as_view(), name="org-invitation"),
]
