"""A real browser for the web UI's tests and screenshots: Debian's chromium
driven by Playwright, axe-core for accessibility, and a served Heater
holding the pages' example data.

Everything is installed on first use: chromium and graphviz from Debian
(:func:`tests.services.debian.ensure_packages`), axe-core with ``npm ci``
from the lock file beside this module. Playwright's own browser downloads
are never used: the system chromium is launched by path.
"""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

from tests.conftest import GIT_IDENTITY, Server, git_env, start_server, stop_server
from tests.http.web.support import populate
from tests.services.debian import ensure_packages

AXE_DIR = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# Headless, and nothing a test run does not need: no update checks, no
# sync, no first-run pages, nothing sent anywhere.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
NS = "acme"
PRIVATE_NS = "hidden"


def chromium() -> str:
    return ensure_packages("chromium", "fonts-dejavu-core", program="chromium")


def axe_source() -> str:
    """axe-core's script, installed with ``npm ci`` when missing (once,
    whichever test process asks first)."""
    if not AXE_SCRIPT.is_file():
        npm = ensure_packages("npm", program="npm")
        lock = Path(tempfile.gettempdir()) / "heater-tests-npm.lock"
        with lock.open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            if not AXE_SCRIPT.is_file():
                done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR,
                                      capture_output=True, text=True, timeout=600,
                                      check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"npm ci failed:\n{done.stdout}\n{done.stderr}")
    return AXE_SCRIPT.read_text()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)


@dataclass
class Site:
    """A served Heater with the example data, and its tokens."""

    server: Server
    admin: str
    reader: str  # reads the private namespace

    @property
    def url(self) -> str:
        return self.server.url


def _pusher(server: Server, token: str, work: Path) -> Any:
    """``commit(repo, files)``: clone, change, commit and push with git."""
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**git_env(home), **GIT_IDENTITY}

    def git(*args: str, cwd: Path | None = None) -> None:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {done.stderr}")

    def commit(repo: str, files: dict[str, str]) -> None:
        checkout = work / repo.replace("/", "-")
        git("clone", "-q", server.auth_url(f"{repo}.git", token), str(checkout))
        for path, text in files.items():
            (checkout / path).write_text(text)
        git("commit", "-qam", f"Change {repo}", cwd=checkout)
        git("push", "-q", "origin", "main", cwd=checkout)

    return commit


@contextmanager
def served_site(root: Path) -> Iterator[Site]:
    """Heater serving the example data (see :func:`tests.http.web.support.populate`)."""
    ensure_packages("graphviz", program="dot")
    server = start_server(root / "data", root / "server.log")
    try:
        admin = server.token("admin")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {admin}"

        def call(method: str, path: str, body: dict[str, Any] | bytes | None) -> tuple[int, Any]:
            if isinstance(body, bytes):
                answer = session.request(method, server.url + path, data=body, timeout=60,
                                         headers={"Content-Type": "application/octet-stream"})
            else:
                answer = session.request(method, server.url + path, json=body, timeout=60)
            return answer.status_code, answer.json()

        populate(call, NS, _pusher(server, admin, root / "work"), PRIVATE_NS)
        yield Site(server, admin, server.token("reader", PRIVATE_NS))
    finally:
        stop_server(server)


def watch_console(page: Page, errors: list[str]) -> None:
    """Collect the page's console errors and failed requests into ``errors``."""
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))


def axe_violations(page: Page, source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as shown."""
    # Evaluated through the browser's debugger, which the page's CSP (no
    # inline script) does not govern, unlike a <script> element would be.
    page.evaluate(source)
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


# Every page of the UI, by a name for its screenshot.
PAGES = {
    "catalog": "/",
    "catalog-search": "/?q=server&keyword=web",
    "template": f"/{NS}/web",
    "template-deprecated": f"/{NS}/db",
    "template-yanked-version": f"/{NS}/web?ref=1.0.1",
    "files": f"/{NS}/web/files/2.0.0",
    "file": f"/{NS}/web/files/2.0.0/template.yaml",
    "versions": f"/{NS}/web/versions",
    "history": f"/{NS}/web/history",
    "compare": f"/{NS}/web/compare?from=1.0.0&to=2.0.0",
    "compare-split": f"/{NS}/web/compare?from=1.0.0&to=2.0.0&view=split",
    "images": "/ui/images",
    "image": f"/{NS}/jammy",
    "image-compare": f"/{NS}/jammy/compare?from=1.0.0&to=1.1.0",
    "image-build": f"/{NS}/jammy?ref=1.0.0",
    "sign-in": "/ui/sign-in",
    "not-found": f"/{PRIVATE_NS}/secret",
    "deleted": f"/{NS}/retired",
}
# What each page answers when it is not 200.
STATUSES = {"not-found": 404, "deleted": 410}
PHONE = {"width": 375, "height": 800}
