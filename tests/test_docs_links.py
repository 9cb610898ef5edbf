"""The README's links into docs/ lead to a file that exists and to a heading it holds."""
import re

from tests.conftest import REPO


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_docs_link_in_the_readme_resolves():
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#([^)\s]+))?\)", (REPO / "README.md").read_text())
    assert links, "the README links its findings in docs/"
    for path, anchor in links:
        target = REPO / path
        assert target.is_file(), path
        headings = {github_anchor(line.lstrip("#")) for line in target.read_text().splitlines() if line.startswith("#")}
        assert not anchor or anchor in headings, f"{path}#{anchor}"
