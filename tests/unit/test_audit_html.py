"""`spofless audit -o html`: one self-contained page, checked as a person sees it, through a headless
browser's screenshot (Debian's chromium, which `make test` installs; outside `make test` the
screenshot tests skip when it is missing, under it they fail)."""

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from spofless.audit import html
from spofless.core.judgement import audit
from spofless.core.observed.inventory import Missing

from .test_audit import deployment, inventory, pods

RED = (0xC6, 0x28, 0x28)  # the SPOF verdict's background
GREEN = (0x2E, 0x7D, 0x32)  # the clean verdict's


def at_risk() -> audit.AuditReport:
    inv = inventory(
        workloads=[*deployment("single", 1), *deployment("spread", 3)],
        pods=[*pods("single", ["zone-a-0"]), *pods("spread", ["zone-a-0", "zone-b-0", "zone-c-0"])],
        missing=[Missing("list", "poddisruptionbudgets.policy", "app", "PodDisruptionBudget coverage unknown")],
    )
    return audit.audit(inv)


def clean() -> audit.AuditReport:
    return audit.audit(inventory(workloads=deployment("spread", 3), pods=pods("spread", ["zone-a-0", "zone-b-0"])))


def test_the_page_is_self_contained_and_gives_a_fix_for_each_finding() -> None:
    report = at_risk()
    page = html.page(report, "namespace app")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    for outside in ("<script", "http://", "https://", "<link", "@import"):
        assert outside not in page, f"the page must open offline: found {outside}"
    assert page.count('<div class="fix">Fix: ') == len(report.findings) > 0
    assert "app/Deployment/single" in page and "Missing permissions" in page
    assert '<div class="verdict spof">1 single point(s) of failure, 1 warning(s)</div>' in page


def test_what_the_cluster_says_is_escaped() -> None:
    report = audit.audit(inventory(workloads=deployment("a<b>", 1), pods=pods("a<b>", ["zone-a-0"])))
    page = html.page(report, "namespace <x>")
    assert "a&lt;b&gt;" in page and "<b>" not in page.replace("<b>Replica</b>", "")
    assert "namespace &lt;x&gt;" in page


def browser() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("SPOFLESS_REQUIRE_CHROMIUM") == "1":
        pytest.fail("chromium is missing, and `make test` installs it (hack/test.sh): the HTML report went unchecked")
    pytest.skip("chromium is not installed (Debian's `chromium`; `make test` installs it)")


def screenshot(page: str, tmp_path: Path) -> Counter[tuple[int, ...]]:
    """The page as chromium draws it at 1200x900: how many pixels of each colour."""
    source, shot = tmp_path / "report.html", tmp_path / "report.png"
    source.write_text(page)
    cmd = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,900",
           f"--screenshot={shot}", source.as_uri()]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0 and shot.exists(), f"chromium failed:\n{result.stderr[-2000:]}"
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 900)
    counts = image.getcolors(maxcolors=1200 * 900) or []
    return Counter({colour: n for n, colour in counts if isinstance(colour, tuple)})


def test_a_report_with_a_spof_shows_a_red_verdict(tmp_path: Path) -> None:
    colours = screenshot(html.page(at_risk(), "namespace app"), tmp_path)
    assert colours[RED] > 20_000, "the red verdict banner (at least 20000 pixels) is drawn"
    assert colours[GREEN] < colours[RED]
    assert len(colours) > 50, "text is drawn, not only flat colour"


def test_a_clean_report_shows_a_green_verdict_and_no_red(tmp_path: Path) -> None:
    colours = screenshot(html.page(clean(), "namespace app"), tmp_path)
    assert colours[GREEN] > 20_000
    assert colours[RED] == 0
