from django.contrib import admin
from django.urls import include, path

from guanxi.api.router import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("console/", include("guanxi.console.urls")),
    path("t/", include("guanxi.marketing.urls")),
    path("", include("guanxi.integrations.urls")),
    path("", include("guanxi.portal.urls")),
]
