"""Test files live in folders without __init__.py, so pytest imports them by basename: two files
with one name in different folders break collection on a clean checkout."""
import collections
import pathlib


def test_test_file_basenames_are_unique():
    root = pathlib.Path(__file__).resolve().parent
    names = collections.Counter(p.name for p in root.rglob("*.py")
                                if p.name not in ("conftest.py", "__init__.py"))
    assert [n for n, c in names.items() if c > 1] == []
