from django.contrib.auth.views import LogoutView
from django.urls import path

from usage import views

urlpatterns = [
    path("accounts/login/", views.DashboardLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/budget", views.dashboard_budget, name="dashboard-budget"),
    path("dashboard/export.csv", views.dashboard_export, name="dashboard-export"),
]
