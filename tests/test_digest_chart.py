"""The digest's table-cell charts, laid out by a real browser once the CSS is inlined: every bar stands
on its chart's baseline, and the day cells carry no rule of their own.

The digest has no scripts; a test-only copy gets one that measures the laid-out boxes and writes the
figures into an attribute, which `--dump-dom` then shows.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest
from test_browser import CHROMIUM, chromium
from test_report import NOW, World, a_busy_week

from listener import report

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")

MEASURE = """<script>
const charts = [...document.querySelectorAll('table.bars')].map(table => [...table.querySelectorAll('td.barcell')].map(cell => {
  const box = cell.getBoundingClientRect(), bar = cell.querySelector('.bar').getBoundingClientRect(), css = getComputedStyle(cell);
  return {bar_top: bar.top, bar_bottom: bar.bottom, bar_height: bar.height, cell_top: box.top,
          floor: box.bottom - parseFloat(css.paddingBottom) - parseFloat(css.borderBottomWidth),
          border_top: parseFloat(css.borderTopWidth), valign: css.verticalAlign};
}));
document.body.setAttribute('data-charts', JSON.stringify(charts));
</script>"""


def measured_charts(tmp_path, html_text: str) -> list[list[dict]]:
    page = tmp_path / "digest-measured.html"
    page.write_text(html_text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    run = chromium("--dump-dom", "--window-size=700,3000", page.as_uri(), profile=tmp_path / "profile")
    out, _ = run.communicate(timeout=60)
    found = re.search(r'data-charts="([^"]*)"', out.decode("utf-8", "replace"))
    assert found, "the measuring script did not run"
    return json.loads(html.unescape(found.group(1)))


def test_every_digest_bar_stands_on_its_baseline(tmp_path):
    world = World(tmp_path / "w")
    a_busy_week(world)
    for back, negative in ((1, 1), (3, 3), (6, 0), (9, 2)):  # a second term whose bars differ in height
        for i in range(4):
            world.mention(f"Nibs {back}-{i}", compound=-0.6 if i < negative else 0.5, terms=("Nibs",),
                          seen=NOW - dt.timedelta(days=back, hours=1))
    digest_html = report.render_digest(world.data(), max_items=50).html
    assert "<style" not in digest_html  # inlined, as mail clients see it
    charts = measured_charts(tmp_path, digest_html)
    assert len(charts) == 3, "overall, Quillfeather and Nibs"
    for index, cells in enumerate(charts):
        assert len(cells) == 14
        assert len({round(cell["bar_height"]) for cell in cells}) > 1, f"chart {index}: all bars alike"
        for day, cell in enumerate(cells):
            where = f"chart {index}, day {day}: {cell}"
            assert abs(cell["bar_bottom"] - cell["floor"]) < 1, f"the bar hangs above its baseline ({where})"
            assert cell["border_top"] == 0, f"a rule on a day cell ({where})"
        assert len({round(cell["bar_bottom"]) for cell in cells}) == 1, f"chart {index}: bars on different baselines"


def test_the_digest_css_styles_no_element_inside_another():
    """css_inline applies a descendant rule (`.term td`) to every nested table too: only classes, one per rule part."""
    css = (Path(report.__file__).parents[1] / "templates" / "_digest.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for selectors in re.findall(r"([^{}]+)\{", css):
        for selector in selectors.split(","):
            assert " " not in selector.strip(), f"descendant selector {selector.strip()!r} in _digest.css"
