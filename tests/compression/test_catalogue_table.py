"""README.md's technique table is the registry's, so it says what each technique acts on."""

from __future__ import annotations

from pathlib import Path

import pytest

from compression.techniques import all_techniques
from compression.techniques.__main__ import HEADER, catalogue_table

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_table() -> str:
    lines = README.read_text().splitlines()
    start = lines.index(HEADER[0])
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[start:end]) + "\n"


def test_it_keeps_the_readme_table_equal_to_the_registry() -> None:
    # On failure: python -m compression.techniques, and paste the table into README.md.
    assert readme_table() == catalogue_table()


@pytest.mark.parametrize("cls", all_techniques(model_format=None), ids=lambda c: c.code)
def test_it_says_which_layers_each_technique_acts_on(cls: type) -> None:
    assert isinstance(cls.acts_on, str) and len(cls.acts_on) > 10, cls.code
    assert f"| `{cls.code}` |" in readme_table() and cls.acts_on in readme_table()
