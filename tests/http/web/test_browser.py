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
    PHONE,
    PRIVATE_NS,
    STATUSES,
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


def visit_every_page(site: Site, page: Page) -> dict[str, object]:
    """Every page of the UI in ``page``: what went wrong, by kind (empty
    lists when nothing did)."""
    axe = axe_source()
    errors: list[str] = []
    watch_console(page, errors)
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(
        (site.url + "/", "data:")) else elsewhere.append(request.url))
    problems = {}
    statuses = {}
    too_wide = {}
    for name, path in PAGES.items():
        answer = page.goto(site.url + path, wait_until="networkidle")
        assert answer is not None
        statuses[name] = answer.status
        expect(page.locator("main h1, main h2").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > page.viewport_size["width"]:  # type: ignore[index]
            too_wide[name] = width
        violations = axe_violations(page, axe)
        if violations:
            problems[name] = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                              for v in violations]
    # A 404 or 410 page's own status is reported by chromium as a failed load.
    errors = [e for e in errors if not re.search(r"status of (404|410)", e)]
    return {"statuses": [name for name, status in statuses.items()
                         if status != STATUSES.get(name, 200)],
            "console errors": errors, "requests elsewhere": elsewhere,
            "axe": problems, "wider than the window": too_wide}


NOTHING_WRONG: dict[str, object] = {
    "statuses": [], "console errors": [], "requests elsewhere": [], "axe": {},
    "wider than the window": {}}


def test_every_page_loads_cleanly_and_accessibly(web_site: Site, page: Page) -> None:
    found = visit_every_page(web_site, page)
    assert found == NOTHING_WRONG, json.dumps(found, indent=1)


def test_every_page_fits_a_phone_in_the_dark(web_site: Site, browser: Browser) -> None:
    # 375 px wide, dark: nothing wider than the screen (tables scroll in
    # their own keyboard-reachable box), and axe finds nothing serious,
    # contrast in the dark colours included.
    context = browser.new_context(viewport=PHONE,  # type: ignore[arg-type]
                                  color_scheme="dark")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        found = visit_every_page(web_site, page)
        assert found == NOTHING_WRONG, json.dumps(found, indent=1)
        page.goto(web_site.url + "/")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background != "rgb(255, 255, 255)"
    finally:
        context.close()


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
    # The README's picture comes from the raw URL, which reads the session.
    picture = page.locator(".readme img")
    expect(picture).to_have_attribute("alt", "diagram")
    assert picture.evaluate(LOADED_WIDTH) > 0
    cookie = next(c for c in page.context.cookies() if c["name"] == "heater_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    page.goto(f"{web_site.url}/{PRIVATE_NS}/secret/files/main/template.yaml")
    with page.expect_response(re.compile(r"/raw/main/template\.yaml$")) as raw:
        page.get_by_role("link", name="Raw").click()
    assert raw.value.status == 200
    page.goto(f"{web_site.url}/{PRIVATE_NS}/secret")
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


def test_copy_buttons_work_without_the_clipboard_api(web_site: Site, page: Page) -> None:
    # As on a registry served over plain HTTP (not a secure context): no
    # navigator.clipboard, and the button still copies.
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page.goto(f"{web_site.url}/{NS}/web")
    button = page.locator("button[data-copy=heat-command]")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_have_text("Copied")
    selected = page.evaluate("window.getSelection().toString() || "
                             "document.activeElement.value")
    assert selected.startswith(f"openstack stack create -t {web_site.url}/{NS}/web/raw/2.0.0/")


def test_ref_pickers_show_another_ref(web_site: Site, page: Page) -> None:
    page.goto(f"{web_site.url}/{NS}/web/history")
    expect(page.locator(".commits li")).to_have_count(2)
    page.select_option("#picker-ref", "1.0.0")
    page.wait_for_url(re.compile(r"/history\?ref=1\.0\.0$"))
    expect(page.locator(".commits li")).to_have_count(1)
    page.goto(f"{web_site.url}/{NS}/web/files/2.0.0/docs")
    page.select_option("#picker-ref", "1.0.0")
    page.wait_for_url(f"{web_site.url}/{NS}/web/files/1.0.0/docs")
    expect(page.get_by_role("link", name="guide.md")).to_be_visible()


def test_a_line_number_links_and_marks_its_line(web_site: Site, page: Page) -> None:
    page.goto(f"{web_site.url}/{NS}/web/files/2.0.0/template.yaml")
    page.locator(".linenos a[href='#L-12']").click()
    page.wait_for_url(re.compile(r"/template\.yaml#L-12$"))
    band = "id => getComputedStyle(document.getElementById(id), '::before').backgroundColor"
    assert page.evaluate(band, "L-12") not in ("rgba(0, 0, 0, 0)", "transparent")
    assert page.evaluate(band, "L-11") == "rgba(0, 0, 0, 0)"
    expect(page.locator("#L-12")).to_be_in_viewport()


def test_image_builds_open_and_compare(web_site: Site, page: Page) -> None:
    page.goto(f"{web_site.url}/{NS}/jammy")
    rows = page.locator("section[aria-labelledby=builds] tbody tr")
    expect(rows).to_have_count(2)
    # Both builds were made in the same second: find the first by version.
    first = rows.filter(has=page.get_by_role("cell", name="1.0.0", exact=True)).locator("th a")
    build_id = first.inner_text()
    first.click()
    page.wait_for_url(f"{web_site.url}/{NS}/jammy?ref={build_id}")
    expect(page.locator("#current")).to_have_text(f"Build at {build_id}")
    expect(page.locator("#package-table")).to_contain_text("python3-cryptography")
    page.goto(f"{web_site.url}/{NS}/jammy")
    rows.first.get_by_role("link", name="packages since the build before").click()
    page.wait_for_url(re.compile(r"/compare\?from=[0-9a-f-]{36}&to=[0-9a-f-]{36}$"))
    changed = page.locator("table.pk-upgraded, table.pk-downgraded")
    expect(changed).to_contain_text("openssl")
    expect(page.locator("table.pk-added, table.pk-removed")).to_have_count(2)


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
