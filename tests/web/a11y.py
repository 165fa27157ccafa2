"""Accessibility checks with axe-core (Deque's engine, vendored in tests/web/vendor/axe-core: MPL-2.0,
no network) inside the Chromium page tests.

`assert_accessible(page, "what is on screen")` runs axe on the page as it is now and fails on any
violation of impact *serious* or *critical*, listing each rule, why, and the elements. Any page
test can call it after it brought the page into the state it checks. The script goes in through
Playwright's evaluate (the DevTools protocol), which the page's strict CSP (`script-src 'self'`)
does not apply to, so the page under test stays exactly as users get it.

To update axe: in a temporary directory `npm pack axe-core@4`, unpack, and copy `axe.min.js` and
`LICENSE` here under a versioned file name (change AXE below)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe-4.14.1.min.js"
FAILING_IMPACTS = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations for the page as it is now (all of WCAG 2.x A/AA and best practices)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ["violations"]});
            return {violations: r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 200),
                                          summary: n.failureSummary}))}))};
        }"""
    )
    return list(result["violations"])


def assert_accessible(page: Page, where: str) -> None:
    """Fails with a readable list when axe finds serious or critical violations on the page."""
    found = [v for v in violations(page) if v["impact"] in FAILING_IMPACTS]
    if not found:
        return
    lines = [f"{len(found)} serious/critical accessibility violation(s) on {where} ({page.url}):"]
    for v in found:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {node['target']}: {node['html']}")
            if node["summary"]:
                lines.append("      " + node["summary"].replace("\n", "\n      "))
    raise AssertionError("\n".join(lines))
