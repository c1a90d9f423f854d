"""The console on a phone (390 px) and a desk (1366 px): no page scrolls sideways, tags
stay inside their cells, wide tables scroll inside their own box, and the header does not
take a third of a phone's screen. Screenshots of every page at both widths are kept in
$FORMBOT_SHOTS (default /tmp/formbot-shots) to be looked at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.test_browser import ADMIN, SHOTS, browser, demo  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

WIDTHS = {"phone": (390, 844), "desk": (1366, 900)}

# Every element whose box ends right of its scrolling container's box, ignoring what sits
# inside an element that scrolls by design (.wide, pre, textarea).
OVERFLOW = """() => {
  const out = [];
  const inScroller = (el) => el.closest('.wide, pre, textarea');
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1)
    out.push('page ' + doc.scrollWidth + ' > ' + window.innerWidth);
  for (const tag of document.querySelectorAll('.tag')) {
    const cell = tag.closest('td, th, li, dd, p, div');
    if (!cell || inScroller(tag) && !tag.closest('td, th')) continue;
    const a = tag.getBoundingClientRect(), b = cell.getBoundingClientRect();
    if (a.right > b.right + 1 || a.left < b.left - 1)
      out.push('tag "' + tag.textContent.trim().slice(0, 20) + '" leaves its cell');
  }
  return out;
}"""


def _pages(base: str, console: object) -> list[tuple[str, str]]:
    from sqlmodel import Session, select

    from store.models import Message, Unit

    with Session(console.engine) as session:  # type: ignore[attr-defined]
        unit = session.exec(select(Unit).where(Unit.name == "定海路街道总工会")).one()
        message = session.exec(select(Message).order_by(Message.id)).first()
    return [("progress", "/"), ("unit", f"/units/{unit.id}"),
            ("message", f"/messages/{message.id}"), ("unmatched", "/unmatched"),
            ("failed", "/failed"), ("search", "/search?q=%E5%8A%B3%E6%A8%A1"),
            ("sql", "/sql"), ("audit", "/audit"), ("second-campaign", "/c/1/")]


@pytest.mark.parametrize("size", list(WIDTHS))
def test_no_page_scrolls_sideways_and_tags_stay_in_their_cells(
        demo: tuple[str, object], browser: object, size: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    base, console = demo
    width, height = WIDTHS[size]
    context = browser.new_context(viewport={"width": width, "height": height},  # type: ignore[attr-defined]
                                  locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/")
    page.get_by_label("管理密码").fill(ADMIN)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="提交进度")).to_be_visible()

    problems: dict[str, list[str]] = {}
    for name, path in _pages(base, console):
        page.goto(base + path)
        page.screenshot(path=Path(SHOTS) / f"w-{size}-{name}.png", full_page=True)
        found = page.evaluate(OVERFLOW)
        if found:
            problems[name] = found
        header = page.locator("header.top").bounding_box()
        assert header is not None
        # the header leaves the phone's screen to the page
        assert header["height"] <= height / 6, (name, header)
    # The campaign switcher opened: its list stays on the screen.
    page.goto(base + "/")
    page.get_by_text("切换活动").click()
    expect(page.locator(".switcher ul")).to_be_visible()
    page.screenshot(path=Path(SHOTS) / f"w-{size}-switcher.png")
    found = page.evaluate(OVERFLOW)
    if found:
        problems["switcher"] = found
    box = page.locator(".switcher ul").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    context.close()
    assert problems == {}
