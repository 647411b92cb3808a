"""Recommend URLs, included by webapp.dashboard.urls at the site root."""

from django.urls import path

from webapp.dashboard.recommend import views

app_name = "recommend"

urlpatterns = [
    path("recommend/", views.recommend, name="recommend"),
    path("recommend/queue/", views.queue, name="queue"),
]
