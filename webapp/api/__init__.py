"""Compresso's REST API (Django REST framework) under /api/."""
