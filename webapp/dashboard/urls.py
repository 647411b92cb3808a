"""Dashboard URLs: the overview here; analysis pages and management pages in their modules."""

from django.urls import include, path

from webapp.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("", include("webapp.dashboard.analysis.urls")),
    path("", include("webapp.dashboard.manage.urls")),
    path("", include("webapp.dashboard.recommend.urls")),
]
