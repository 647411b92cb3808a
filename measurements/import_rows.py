"""The rows of an import and what is said about them: problems, options, the report.

Shared by ``measurements.imports`` (reading and validating a file) and
``measurements.import_store`` (writing the rows), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from measurements.models import Dataset, Device, DNNModel

DUPLICATE_CHOICES = ("skip", "error", "keep")


@dataclass(frozen=True)
class Problem:
    """Why a file or one of its rows was refused (row None: the whole file)."""

    row: int | None
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready data."""
        return {"row": self.row, "column": self.column, "message": self.message}


class ImportRefused(ValueError):
    """The file, or at least one row, is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"Import refused: {len(problems)} problem(s); nothing was written.")


@dataclass(frozen=True)
class ImportOptions:
    """How an import treats repeats and unknown names.

    Attributes:
        source_label: the label of rows that do not carry their own.
        on_duplicate: a row identical to a stored result (or an earlier row):
            "skip" (report it, store nothing), "error" (refuse the file) or "keep".
        create_missing: create an unknown device as an external device and an
            unknown model as a reference model (no file; needs a ``dataset``).
    """

    source_label: str = ""
    on_duplicate: str = "skip"
    create_missing: bool = False

    def __post_init__(self) -> None:
        if self.on_duplicate not in DUPLICATE_CHOICES:
            raise ValueError(
                f"on_duplicate must be one of {', '.join(DUPLICATE_CHOICES)}. "
                f"Received: on_duplicate={self.on_duplicate!r}"
            )


@dataclass
class ValidRow:
    """A row that passed validation, ready to store.

    ``model`` and ``device`` are None when they are to be created (create_missing).
    """

    number: int
    model_name: str
    model: DNNModel | None
    dataset: Dataset | None
    architecture: str
    device_name: str
    device: Device | None
    plan_text: str
    threads: int
    source_label: str
    figures: dict[str, Any]
    static: dict[str, int]
    duplicate_of: int | None = None  # a stored result's id
    duplicate_row: int | None = None  # an earlier row of the file


@dataclass
class ImportReport:
    """What an import did: results stored, rows skipped as duplicates, rows created."""

    created: list[Any] = field(default_factory=list)
    duplicates: list[ValidRow] = field(default_factory=list)
    created_models: list[str] = field(default_factory=list)
    created_devices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as the API answers it."""
        return {
            "created": len(self.created),
            "ids": [r.pk for r in self.created],
            "duplicates": [
                {"row": d.number, "result": d.duplicate_of, "same_as_row": d.duplicate_row}
                for d in self.duplicates
            ],
            "created_models": self.created_models,
            "created_devices": self.created_devices,
        }
