"""The README is a landing page: short, and every link it gives leads somewhere.

The docs site's own links are checked by `mkdocs build --strict` in `make lint`; the README sits
outside the site, so its links are checked here.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_the_readme_is_a_landing_page_under_150_lines() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 150, f"README.md has {len(lines)} lines: move reference to docs/"


def shown(markdown: str) -> str:
    """The markdown without its HTML comments (an image slot waiting for its picture, say)."""
    return re.sub(r"<!--.*?-->", "", markdown, flags=re.S)


def test_every_relative_link_of_the_readme_exists() -> None:
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", shown(README.read_text()))
    relative = [t for t in targets if "://" not in t]
    assert relative, "the README links into docs/"
    missing = [t for t in relative if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_every_docs_page_is_reachable_from_the_readme_or_the_docs_home() -> None:
    linked = set(re.findall(r"\]\((docs/[^)#]+)", README.read_text()))
    home = (ROOT / "docs" / "index.md").read_text()
    linked |= {f"docs/{t}" for t in re.findall(r"\]\(([^)#:]+\.md)", home)}
    pages = {str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")}
    assert pages - linked - {"docs/index.md"} == set()
