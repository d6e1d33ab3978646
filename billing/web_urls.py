from django.urls import path

from billing import views

urlpatterns = [
    path("plans/", views.plans, name="plans"),
    path("billing/", views.billing, name="billing"),
    path("billing/checkout", views.checkout, name="billing-checkout-start"),
    path("billing/change", views.change_plan, name="billing-change"),
    path("billing/cancel", views.cancel, name="billing-cancel"),
    path("billing/portal", views.portal, name="billing-portal-open"),
]
