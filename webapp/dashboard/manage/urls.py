"""URLs of the management pages, namespaced ``dashboard:manage:``."""

from django.urls import path

from webapp.dashboard.manage import views

app_name = "manage"

urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/upload/", views.model_upload, name="model-upload"),
    path("models/<int:pk>/", views.model_detail, name="model"),
    path("devices/", views.device_list, name="devices"),
    path("devices/new/", views.device_new, name="device-new"),
    path("devices/<int:pk>/", views.device_detail, name="device"),
    path("devices/<int:pk>/test/", views.device_test, name="device-test"),
    path("techniques/", views.technique_list, name="techniques"),
    path("techniques/<str:code>/", views.technique_detail, name="technique"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/new/", views.job_new, name="job-new"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job-retry"),
    path("jobs/<int:pk>/delete/", views.job_delete, name="job-delete"),
    path("jobs/<int:pk>/result/", views.job_result, name="job-result"),
]
