from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from aragora_site.health import HealthApi
from aragora_site.views import home

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", HealthApi.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="docs/redoc.html"),
        name="redoc",
    ),
    path("api/billing/", include("billing.urls")),
    path("api/", include("accounts.urls")),
    path("api/", include("usage.urls")),
    path("", home, name="home"),
    path("", include("accounts.web_urls")),
    path("", include("billing.web_urls")),
    path("", include("usage.web_urls")),
]

handler404 = "aragora_site.errors.handler404"
handler500 = "aragora_site.errors.handler500"
