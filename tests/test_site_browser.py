"""The static site in a real browser (issue 19): headless Chromium (Debian's `chromium`, driven
over the DevTools pipe by tests/chromium.py) opens every page of the default pack's site from
file:// at 1280 and 390 CSS pixels wide, and finds no broken image, no link to a missing file, the
stylesheet applied and no horizontal scroll. A control page with a broken image and a too-wide
block shows that the same check fails when it should.

Skipped, with the reason, only when no Chromium can be found (.ci/run installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from chromium import Browser, find
from click.testing import CliRunner
from packbuilder import copy_default_project

from tracker.cli import main

WIDTHS = (1280, 390)
PROBE = """(() => ({
  images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                                          alt: i.getAttribute('alt') || ''})),
  links: [...document.querySelectorAll('a[href], link[href]')].map(a => a.href),
  scripts: document.scripts.length,
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  background: getComputedStyle(document.body).backgroundColor,
}))()"""


@pytest.fixture(scope="module")
def browser():
    exe = find()
    if exe is None:
        pytest.skip("chromium not found: install Debian's chromium package (.ci/run does when it can) "
                    "or set CHROMIUM to the browser's path")
    with Browser(exe) as b:
        yield b


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    copy_default_project(root)
    res = CliRunner().invoke(main, ["site", str(root / "out"), "--as-of", "2026-12-06",
                                    "--config", str(root / "config.yaml")])
    assert res.exit_code == 0, res.output
    return root / "out"


def problems(browser: Browser, page: Path, width: int) -> list[str]:
    browser.load(page.as_uri(), width)
    got = browser.evaluate(PROBE)
    out = [f"broken image {i['src']}" for i in got["images"] if not i["ok"]]
    out += [f"image without alt {i['src']}" for i in got["images"] if not i["alt"].strip()]
    for href in got["links"]:
        parts = urlsplit(href)
        if parts.scheme == "file" and not Path(unquote(parts.path)).is_file():
            out.append(f"link to a missing file {href}")
        elif parts.scheme not in ("file", "http", "https"):
            out.append(f"link of scheme {parts.scheme}: {href}")
    if got["scrollWidth"] > got["innerWidth"]:
        out.append(f"horizontal scroll: {got['scrollWidth']} px wide in a {got['innerWidth']} px window")
    if got["background"] != "rgb(243, 244, 246)":
        out.append(f"stylesheet not applied (body background {got['background']})")
    if got["scripts"]:
        out.append(f"{got['scripts']} script(s)")
    return out


def test_every_page_renders_whole_at_both_widths(browser: Browser, site: Path) -> None:
    pages = [site / "index.html", site / "indicators.html", *sorted((site / "scenarios").glob("*.html")),
             *sorted((site / "indicators").glob("*.html"))]
    assert len(pages) == 26                                  # index, list, 3 scenarios, 21 indicators
    found = {f"{p.relative_to(site)} @ {w}px": problems(browser, p, w) for w in WIDTHS for p in pages}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_check_fails_on_a_broken_page(browser: Browser, site: Path, tmp_path: Path) -> None:
    shutil.copy2(site / "site.css", tmp_path / "site.css")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width">'
                    '<link rel="stylesheet" href="site.css"></head><body>'
                    '<img src="charts/gone.svg" alt="a chart"><a href="gone.html">gone</a>'
                    '<div style="width:900px">wide</div></body></html>')
    found = problems(browser, page, 390)
    assert any(p.startswith("broken image") and p.endswith("charts/gone.svg") for p in found)
    assert any(p.startswith("link to a missing file") and p.endswith("gone.html") for p in found)
    assert any(p.startswith("horizontal scroll: ") for p in found)
    assert not any(p.startswith("horizontal scroll") for p in problems(browser, page, 1280))  # 900 px fits
