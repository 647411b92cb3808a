"""Page-number pagination whose bad ``page`` or ``page_size`` is a 400 naming it."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

MAX_PAGE_SIZE = 1000


class Pagination(PageNumberPagination):
    """``?page=N`` (from 1) and ``?page_size=N`` (1..1000, default PAGE_SIZE).

    DRF would ignore a malformed page size and answer a malformed page with a
    404; here both are client errors that say which parameter is wrong. A page
    past the end is still a 404, as in DRF.
    """

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        page = request.query_params.get(self.page_query_param)
        if page is not None and not _positive(page, 2**31):
            raise ValidationError({"page": [f"page must be a positive integer, got {page!r}."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``page`` from 1 and ``page_size`` 1..MAX_PAGE_SIZE, as the checks above enforce."""
        page, size = super().get_schema_operation_parameters(view)
        page["schema"] = {"type": "integer", "minimum": 1, "maximum": 2**31}
        size["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return [page, size]

    def get_page_size(self, request: Request) -> int:
        size = request.query_params.get(self.page_size_query_param)
        if size is None:
            return self.page_size
        if not _positive(size, self.max_page_size):
            raise ValidationError(
                {"page_size": [f"page_size must be 1..{self.max_page_size}, got {size!r}."]}
            )
        return int(size)


def _positive(text: str, maximum: int) -> bool:
    return text.isdigit() and 0 < int(text) <= maximum
