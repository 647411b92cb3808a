"""Recommend URLs, included by webapp.dashboard.urls at the site root."""

from django.urls import path

from webapp.dashboard.recommend import search_views, views

app_name = "recommend"

urlpatterns = [
    path("recommend/", views.recommend, name="recommend"),
    path("recommend/queue/", views.queue, name="queue"),
    path("recommend/searches/", search_views.start, name="search-start"),
    path("recommend/searches/<int:pk>/", search_views.detail, name="search"),
    path("recommend/searches/<int:pk>/stop/", search_views.stop, name="search-stop"),
]
