"""docs/architecture.md is the map of the code: every path it names exists, and it names every module."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()
# a path in backquotes: has a slash, or a file suffix (`tests/tiny.py`, `configs/`, `src/frannet/weights/`)
NAMED = {match for match in re.findall(r"`([\w./-]+)`", DOC) if "/" in match}


def test_every_path_the_doc_names_exists():
    assert len(NAMED) > 50
    assert sorted(name for name in NAMED if not (ROOT / name).exists()) == []


def test_the_doc_names_every_module():
    modules = {str(path.relative_to(ROOT)) for path in (ROOT / "src" / "frannet").rglob("*.py")}
    assert sorted(modules - NAMED) == []


def test_the_readme_links_the_doc_and_nothing_outside_the_project():
    readme = (ROOT / "README.md").read_text()
    assert "](docs/architecture.md)" in readme
    assert re.findall(r"\]\((?:\.\./|/)[^)]*\)", readme) == []  # links out of the repository
