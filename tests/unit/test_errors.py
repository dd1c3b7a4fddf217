"""The exception tree drawn in errors.py's docstring is the tree of its classes (names, parents, codes, HTTP)."""

from __future__ import annotations

import re

from bakehouse import errors


def _drawn() -> list[tuple[str, str | None, str, int]]:
    """(class, parent, code, status) for each line of the drawing, parent None for the root."""
    rows = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.fullmatch(r"\s{4}(?:(├── |└── ))?(\w+)\s+(\w+)\s+(\d{3})\s*", line)
        if match:
            branch, name, code, status = match.groups()
            rows.append((name, rows[0][0] if branch else None, code, int(status)))
    return rows


def test_the_docstring_draws_every_class_of_the_tree_with_its_code_and_status() -> None:
    drawn = _drawn()
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.BakehouseError)
    }
    assert sorted(name for name, *_ in drawn) == sorted(classes), (
        "draw every class of errors.py, and only them"
    )
    for name, parent, code, status in drawn:
        cls = classes[name]
        if parent is None:
            assert cls is errors.BakehouseError
        else:
            assert cls.__bases__ == (classes[parent],), name
        assert cls.default_code.value == code, name
        assert cls("x").http_status == status, name
