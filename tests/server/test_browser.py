"""The dashboard in a real headless Chromium (Debian's ``chromium`` driven by Playwright):
filter the list, open a trace, count the waterfall's bars, open an LLM span, see the cost
chart — and a span named ``<script>…`` stays text. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from server.helpers import XSS_NAME, LiveServer, record_sample, sqlite_url

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("browser") / "home"
    record_sample(home)
    live = LiveServer(sqlite_url(home))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(server: LiveServer, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[Any] = []
    page.on("pageerror", lambda e: errors.append(e))
    try:
        yield page
    finally:
        context.close()
    assert dialogs == [], f"a script ran: {dialogs}"
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_list_filter_trace_waterfall_llm_span(page: Page) -> None:
    page.goto("/")
    rows = page.locator("tr.trace-row")
    expect(rows).to_have_count(3)
    expect(page.locator("a.trace-name").first).to_have_text(XSS_NAME)  # shown as text
    shot(page, "01-trace-list")

    page.select_option("select[name=status]", "error")  # submits on change
    expect(page).to_have_url(re.compile(r"status=error"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("failing run")
    page.select_option("select[name=status]", "")
    page.select_option("select[name=model]", "gpt-4o")
    expect(page).to_have_url(re.compile(r"model=gpt-4o"))
    expect(rows).to_have_count(1)
    page.fill("input[name=min_cost]", "1")
    page.click("button:has-text('Filter')")
    expect(page.locator("p.empty")).to_have_text("No traces match these filters.")
    shot(page, "02-filtered-empty")
    page.click("a.clear")
    expect(rows).to_have_count(3)

    page.click("a.trace-name:has-text('checkout flow')")
    expect(page.locator("h1.trace-title")).to_contain_text("checkout flow")
    bars = page.locator("svg#waterfall rect.bar")
    expect(bars).to_have_count(5)
    expect(page.locator("svg#waterfall rect.bar.kind-llm")).to_have_count(2)
    shot(page, "03-waterfall")

    page.locator("svg#waterfall a.row[data-name='chat gpt-4o']").click()
    facts = page.locator("#llm-facts")
    expect(facts.locator(".tokens-in")).to_have_text("1,000")
    expect(facts.locator(".tokens-out")).to_have_text("200")
    expect(facts.locator(".cost")).to_contain_text("$0.004500")
    expect(page.locator(".transcript .msg[data-role=user] pre")).to_have_text("What is in my cart?")
    selected = page.locator("svg#waterfall a.row.selected")
    expect(selected).to_have_attribute("data-name", "chat gpt-4o")
    shot(page, "04-llm-span")

    page.fill("#span-search", "search")
    expect(page.locator("svg#waterfall a.row.match")).to_have_count(1)


def test_cost_chart(page: Page) -> None:
    page.goto("/cost?since=7d&bucket=day")
    chart = page.locator("svg#cost-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.seg")).to_have_count(3)  # gpt-4o, claude, the unpriced model
    expect(chart.locator("circle.unpriced-mark")).to_have_count(1)
    expect(page.locator("#cost-table")).to_contain_text("mystery-model-x")
    expect(page.locator("#cost-table")).to_contain_text("unpriced")
    shot(page, "05-cost-chart")
    page.select_option("select[name=bucket]", "hour")
    expect(page).to_have_url(re.compile(r"bucket=hour"))
    expect(page.locator("svg#cost-chart rect.seg")).to_have_count(3)


def test_xss_trace_page_shows_the_name_as_text(page: Page) -> None:
    page.goto("/")
    page.locator("a.trace-name").first.click()
    expect(page.locator("h1.trace-title")).to_contain_text(XSS_NAME)
    page.locator("svg#waterfall a.row").first.click()
    expect(page.locator("#span-detail table.kv")).to_contain_text('"><img src=x onerror=alert(1)>')
    expect(page.locator("#span-detail table.kv")).to_contain_text("<b>bold</b>")
    assert page.locator("#span-detail b").count() == 0
    shot(page, "06-hostile-names")


def test_other_pages_render(page: Page) -> None:
    for path, marker in (
        ("/latency", "#latency-table"),
        ("/efficiency", "h1"),
        ("/health", "#ingest-health"),
    ):
        page.goto(path)
        expect(page.locator(marker)).to_be_visible()
    expect(page.locator("#store-health")).to_contain_text("traces")
    shot(page, "07-health")
