"""WebSocket routes (live job progress)."""

websocket_urlpatterns: list = []
