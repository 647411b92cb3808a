"""Print the technique catalogue as the Markdown table README.md carries.

    python -m compression.techniques > /tmp/table.md

``tests/compression/test_catalogue_table.py`` fails when README.md's table and
this output differ, so the README says what the registry holds.
"""

from __future__ import annotations

from compression.techniques import all_techniques

HEADER = (
    "| Code | Technique | Category | Acts on | Models |",
    "|---|---|---|---|---|",
)


def catalogue_table() -> str:
    """Every registered technique as one Markdown row, ordered by code."""
    rows = [
        f"| `{cls.code}` | {cls.name} | {cls.category} | {cls.acts_on} | {', '.join(cls.accepts)} |"
        for cls in all_techniques(model_format=None)
    ]
    return "\n".join([*HEADER, *rows]) + "\n"


if __name__ == "__main__":
    print(catalogue_table(), end="")
