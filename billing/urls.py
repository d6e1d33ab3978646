from django.urls import path

from billing import apis

urlpatterns = [
    path("plans", apis.PlansApi.as_view(), name="billing-plans"),
    path("checkout", apis.CheckoutApi.as_view(), name="billing-checkout"),
    path("subscription", apis.SubscriptionApi.as_view(), name="billing-subscription"),
    path("subscription/cancel", apis.SubscriptionCancelApi.as_view(), name="billing-subscription-cancel"),
    path("subscription/change", apis.SubscriptionChangeApi.as_view(), name="billing-subscription-change"),
    path("portal", apis.PortalApi.as_view(), name="billing-portal"),
    path("webhook", apis.StripeWebhookApi.as_view(), name="billing-webhook"),
]
