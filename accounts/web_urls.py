from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import api_keys, members
from accounts.views import auth as views

urlpatterns = [
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/register/", views.register, name="register"),
    path("account/", views.account, name="account"),
    path("account/sign-out-everywhere", views.sign_out_everywhere, name="sign-out-everywhere"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("keys/", api_keys.api_keys, name="api-keys"),
    path("keys/<uuid:key_id>/revoke", api_keys.api_key_revoke, name="api-key-revoke"),
    path("members/", members.members, name="members"),
    path("members/invite", members.invite, name="members-invite"),
    path("members/invitations/<uuid:invitation_id>/revoke", members.invitation_revoke, name="invitation-revoke"),
    path("members/<uuid:user_id>/role", members.member_role, name="member-role"),
    path("members/<uuid:user_id>/remove", members.member_remove, name="member-remove"),
    path("invitations/accept/<str:token>", members.invitation_accept, name="invitation-accept"),
]
