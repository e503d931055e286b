"""Write a 1280x800 PNG of every page of the web UI (see scripts/screenshots);
375 px wide with --phone."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.http.web.browser import PAGES, PHONE, VIEWPORT, launch, served_site  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "screenshots")
    parser.add_argument("--dark", action="store_true", help="the dark colour scheme")
    parser.add_argument("--full-page", action="store_true", help="whole pages, not 800 px")
    parser.add_argument("--phone", action="store_true", help="a phone's width, 375 px")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, served_site(Path(scratch)) as site, \
            sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport=PHONE if args.phone else VIEWPORT,  # type: ignore[arg-type]
                                      color_scheme="dark" if args.dark else "light")
        suffix = ("-phone" if args.phone else "") + ("-dark" if args.dark else "")
        page = context.new_page()
        for name, path in PAGES.items():
            page.goto(site.url + path, wait_until="networkidle")
            target = args.out / f"{name}{suffix}.png"
            page.screenshot(path=str(target), full_page=args.full_page)
            print(target)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
