"""One small interface to the job queue, on the database or over the runner API."""

from device_runner.queue_client.base import (
    CompressionTicket,
    DeviceSpec,
    JobTicket,
    QueueClient,
    QueueError,
    TokenRefused,
)

__all__ = [
    "CompressionTicket",
    "DeviceSpec",
    "JobTicket",
    "QueueClient",
    "QueueError",
    "TokenRefused",
]
