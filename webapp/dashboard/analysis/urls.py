"""Analysis URLs, included by webapp.dashboard.urls at the site root."""

from django.urls import path

from webapp.dashboard.analysis import views

app_name = "analysis"

urlpatterns = [
    path("pareto/", views.pareto, name="pareto"),
    path("compare/", views.compare, name="compare"),
    path("compare.csv", views.compare_csv, name="compare_csv"),
    path("matrix/", views.matrix, name="matrix"),
    path("sweeps/", views.sweeps, name="sweeps"),
    path("results/<int:pk>/", views.result, name="result"),
]
