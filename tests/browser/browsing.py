"""What the console's browser tests share: the servers they drive, pages, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = os.environ.get("RAG_CONSOLE_SCREENSHOTS")
MAX_HEIGHT = 1300
SAMPLES = ("AMCOR_2023Q4_EARNINGS.pdf", "PEPSICO_2023_8K_dated-2023-05-05.pdf")


@dataclass
class Server:
    base: str
    admin_key: str | None  # None: no-auth local mode


@dataclass
class Page:
    """A Playwright page and what went wrong in it (uncaught errors, console errors)."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def snap(self, name: str) -> None:
        """Save `<RAG_CONSOLE_SCREENSHOTS>/console-<name>.png` when screenshots were asked for."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            path = Path(SCREENSHOTS) / f"console-{name}.png"
            # The whole page, cut at MAX_HEIGHT: long result lists would pass 300 KB.
            size = self.page.viewport_size
            height = self.page.evaluate("() => document.documentElement.scrollHeight")
            clip = {"x": 0, "y": 0, "width": size["width"], "height": min(height, MAX_HEIGHT)}
            self.page.screenshot(path=str(path), full_page=True, clip=clip, animations="disabled")


def unlabelled(page: Any) -> list[str]:
    """Visible form controls without an accessible name (a <label> or aria-label)."""
    result: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
            .filter((el) => !el.labels?.length && !el.getAttribute('aria-label'))
            .map((el) => el.id || el.name || el.outerHTML.slice(0, 60))"""
    )
    return result
