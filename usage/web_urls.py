from django.urls import path

from usage import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/budget", views.dashboard_budget, name="dashboard-budget"),
    path("dashboard/export.csv", views.dashboard_export, name="dashboard-export"),
    path("alerts/", views.alerts, name="alerts"),
]
