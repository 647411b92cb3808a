"""URL map of the API: resources through a router, plus export, import, pareto, schema, docs.

The export, import and pareto paths are declared before the router so
``results/export`` is never read as a result id.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from webapp.api import docs, views
from webapp.api.export import ResultExportView
from webapp.api.pareto import ParetoView
from webapp.api.result_import import ResultImportView
from webapp.api.runner_compression import compression_patterns
from webapp.api.runners import runner_patterns

app_name = "api"

router = DefaultRouter()
router.register("datasets", views.DatasetViewSet)
router.register("models", views.DNNModelViewSet)
router.register("techniques", views.TechniqueViewSet)
router.register("plans", views.PlanViewSet)
router.register("artifacts", views.ArtifactViewSet)
router.register("devices", views.DeviceViewSet)
router.register("jobs", views.JobViewSet, basename="job")
router.register("results", views.ResultViewSet)

urlpatterns = [
    path("results/export", ResultExportView.as_view(), name="results-export"),
    path("results/import", ResultImportView.as_view(), name="results-import"),
    path("pareto", ParetoView.as_view(), name="pareto"),
    *runner_patterns,
    *compression_patterns,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # A plain page, not an API view: LoginRequiredMiddleware guards it (an exception named
    # in tests/webapp/api/test_api_rules.py); every other route takes REST_FRAMEWORK's rules.
    path("reference/", docs.docs, name="reference"),
    *router.urls,
]
