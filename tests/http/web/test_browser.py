"""The web UI in a real browser (headless chromium): every page loads
without console errors and without serious accessibility violations,
search and filters work, a private template appears only after signing
in, the compare page gives its verdict and the graph has a node per
resource."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.http.web.browser import (
    NS,
    PAGES,
    PRIVATE_NS,
    VIEWPORT,
    Site,
    axe_source,
    axe_violations,
    launch,
    served_site,
    watch_console,
)


@pytest.fixture(scope="module")
def web_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_site(tmp_path_factory.mktemp("web-ui")) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# An image's width once it has loaded (0 if it failed): the picture is drawn
# by the server when asked, so it may still be on its way when the page is.
LOADED_WIDTH = """img => img.complete ? img.naturalWidth : new Promise(done => {
    img.addEventListener("load", () => done(img.naturalWidth));
    img.addEventListener("error", () => done(0));
})"""


def test_every_page_loads_cleanly_and_accessibly(web_site: Site, page: Page) -> None:
    axe = axe_source()
    errors: list[str] = []
    watch_console(page, errors)
    problems = {}
    for name, path in PAGES.items():
        answer = page.goto(web_site.url + path, wait_until="networkidle")
        assert answer is not None
        assert answer.status == (404 if name == "not-found" else 200), name
        expect(page.locator("main h1, main h2").first).to_be_visible()
        violations = axe_violations(page, axe)
        if violations:
            problems[name] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                              for v in violations]
    # The 404 page's own status is reported by chromium as a failed load.
    errors = [e for e in errors if not (PRIVATE_NS in e and "404" in e)]
    assert errors == []
    assert problems == {}, json.dumps(problems, indent=1)


def test_search_as_you_type_and_keyword_filters(web_site: Site, page: Page) -> None:
    page.goto(web_site.url + "/")
    cards = page.locator(".card h2 a")
    expect(cards).to_have_count(2)
    page.fill("#q", "postgresql")  # the form submits itself after a pause
    page.wait_for_url(re.compile(r"q=postgresql"))
    expect(cards).to_have_text([f"{NS} / db"])
    expect(page.locator("#q")).to_be_focused()
    page.fill("#q", "")
    page.wait_for_url(re.compile(r"q=&|q=$"))
    page.get_by_role("link", name="nginx").click()
    expect(cards).to_have_text([f"{NS} / web"])
    page.get_by_role("link", name="Remove keyword nginx").click()
    expect(cards).to_have_count(2)
    page.select_option("#sort", "name:desc")
    page.wait_for_url(re.compile(r"sort=name%3Adesc|sort=name:desc"))
    expect(cards).to_have_text([f"{NS} / web", f"{NS} / db"])


def test_private_template_is_invisible_until_sign_in(web_site: Site, page: Page) -> None:
    answer = page.goto(f"{web_site.url}/{PRIVATE_NS}/secret")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    page.goto(f"{web_site.url}/?namespace={PRIVATE_NS}")
    expect(page.locator(".card")).to_have_count(0)
    page.goto(f"{web_site.url}/{PRIVATE_NS}/secret")
    page.get_by_role("link", name="sign in").first.click()
    page.fill("#token", "heater_wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.fill("#token", web_site.reader)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{web_site.url}/{PRIVATE_NS}/secret")
    expect(page.locator(".lead")).to_have_text("A secret PostgreSQL database server")
    cookie = next(c for c in page.context.cookies() if c["name"] == "heater_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    page.get_by_role("button", name="Sign out").click()
    answer = page.goto(f"{web_site.url}/{PRIVATE_NS}/secret")
    assert answer is not None and answer.status == 404


def test_compare_page_shows_the_verdict(web_site: Site, page: Page) -> None:
    page.goto(f"{web_site.url}/{NS}/web/compare")
    page.fill("#from", "1.0.0")
    page.fill("#to", "2.0.0")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#verdict")).to_have_text("Verdict: major")
    expect(page.locator(".summary")).to_contain_text("Heat replaces port")
    images = page.locator(".graphs img")
    expect(images).to_have_count(2)
    for index in range(2):  # both sides' pictures loaded
        assert images.nth(index).evaluate(LOADED_WIDTH) > 0


def test_graph_svg_has_a_node_per_resource(web_site: Site, page: Page) -> None:
    page.goto(f"{web_site.url}/{NS}/web")
    graph = page.locator("figure.graph img")
    expect(graph).to_be_visible()
    assert graph.evaluate(LOADED_WIDTH) > 0
    resources = page.locator("section[aria-labelledby=resources] tbody tr")
    expect(resources).to_have_count(4)
    src = graph.get_attribute("src")
    assert src is not None
    page.goto(web_site.url + src)
    # The entry point's four, and the alarm of the nested monitoring template.
    expect(page.locator("g.node.resource")).to_have_count(5)
    expect(page.locator("g.cluster")).to_have_count(1)


def test_copy_buttons_and_package_filter_work(web_site: Site, page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{web_site.url}/{NS}/web")
    button = page.locator("button[data-copy=clone-url]")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{web_site.url}/{NS}/web.git"
    page.goto(f"{web_site.url}/{NS}/jammy")
    page.fill("#package", "ngi")
    expect(page.locator("#package-table tbody tr:visible")).to_have_count(1)
    page.keyboard.press("Enter")  # filtering in place, no round trip
    assert "package=" not in page.url


def test_keyboard_reaches_the_search_first(web_site: Site, page: Page) -> None:
    page.goto(web_site.url + "/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("document.activeElement.id") == "q"
