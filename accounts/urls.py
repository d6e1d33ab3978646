from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/register", apis.RegisterApi.as_view(), name="auth-register"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/revoke", apis.RevokeApi.as_view(), name="auth-revoke"),
    path("auth/revoke-all", apis.RevokeAllApi.as_view(), name="auth-revoke-all"),
    path("auth/password", apis.PasswordChangeApi.as_view(), name="auth-password"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/api-key", apis.ApiKeyApi.as_view(), name="auth-api-key"),
    path("org", apis.OrganizationApi.as_view(), name="org"),
    path("org/members", apis.MembersApi.as_view(), name="org-members"),
    path("org/members/<uuid:user_id>", apis.MemberApi.as_view(), name="org-member"),
]
