"""The design system's colours (helpdesk/static/design.css): every text colour meets WCAG
AA (4.5:1) on the surface it is drawn on, for the pairs the stylesheet declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpdesk.config import PACKAGE

CSS = (PACKAGE / "static" / "design.css").read_text(encoding="utf-8")


def tokens() -> dict[str, str]:
    """The colour tokens of :root, by name (without the dashes)."""
    root = re.search(r":root\s*{(.*?)}", CSS, re.S)
    assert root, "design.css has no :root block"
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))


def pairs() -> list[tuple[str, str]]:
    """The text/surface pairs named in the stylesheet's "contrast pairs" comment."""
    block = re.search(r"contrast pairs \(text on surface\)[^:]*:(.*?)\*/", CSS, re.S)
    assert block, "design.css names no contrast pairs"
    return [tuple(pair.split("/")) for pair in block.group(1).split()]  # type: ignore[misc]


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_ratio_is_computed_as_wcag_defines_it():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # just below AA


@pytest.mark.parametrize("text,surface", pairs())
def test_every_declared_pair_meets_aa(text, surface):
    colours = tokens()
    assert text in colours and surface in colours, f"unknown token in {text}/{surface}"
    ratio = contrast(colours[text], colours[surface])
    assert ratio >= 4.5, f"{text} on {surface}: {ratio:.2f}:1 is below WCAG AA"


def test_screen_rules_use_the_tokens_not_their_own_greys():
    """app.css colours text only with tokens (a grey of its own is how contrast slips)."""
    app_css = (Path(PACKAGE) / "static" / "app.css").read_text(encoding="utf-8")
    own = re.findall(r"(?<![-\w])color:\s*#(?:555|666|777|888|999|aaa)\b", app_css)
    assert not own, own
