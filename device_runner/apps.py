from django.apps import AppConfig


class DeviceRunnerConfig(AppConfig):
    name = "device_runner"
    verbose_name = "Device runner"
