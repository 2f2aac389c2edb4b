"""axe-core in the page: the accessibility violations a page has, of impact serious or critical.

bin/test fetches axe-core (pinned, checksummed) from the npm registry and names its script in AXE_SCRIPT."""

import os
from pathlib import Path

from playwright.sync_api import Page

SEVERE = {"serious", "critical"}
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5) }));
}"""


def axe_script() -> Path:
    path = os.environ.get("AXE_SCRIPT")
    if not path or not Path(path).is_file():
        raise RuntimeError("axe-core is missing: run the tests with bin/test, which fetches it (AXE_SCRIPT).")
    return Path(path)


def severe_violations(page: Page) -> list[dict]:
    """Violations of impact serious or critical on the page as it is now, once colours have settled: a button caught
    halfway through its 0.15 s colour transition has a contrast it never shows at rest."""
    page.emulate_media(reduced_motion="reduce")  # the site's CSS then turns transitions off
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(content=axe_script().read_text())  # as content: the site's CSP would refuse a URL
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in SEVERE]
