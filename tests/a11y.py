"""Accessibility measurements of a page open in Playwright, for WCAG 2.1 AA.

- `axe_violations`: axe-core (the copy that the PyPI package axe-playwright-python ships,
  pinned in requirements.txt; nothing is downloaded) with the WCAG 2.0 and 2.1 A and AA
  rules (and label in name, which axe counts as experimental), in the page's light or dark
  mode.
- `poor_alt_text`: images whose alternative text says nothing of what they show (axe accepts
  any alt, a file name included).
- `equation_speech`: what the browser's accessibility tree, which screen readers read, holds
  for each equation.

tests/test_browser.py measures every page of both builds with them; tests/test_accessibility.py
drives the pages by keyboard and shows each check failing on a page made to break it.
"""

from __future__ import annotations

import re

from axe_playwright_python.base import AXE_SCRIPT

# axe-core's tags for the success criteria of WCAG 2.0 and 2.1, levels A and AA
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# WCAG 2.1's 2.5.3 (label in name, level A), which axe keeps among its experimental rules
# and so leaves out of the tags' run
EXPERIMENTAL_RULES = ["label-content-name-mismatch"]
# the rules among them whose verdict depends on colour: all that can change with the mode
COLOUR_RULES = ["color-contrast", "link-in-text-block"]

AXE_RUN = """async ({tags, experimental, colourRules, structure}) => {
  // Pygments wraps every token of a code cell in a <span>: 15,000 on the longest chapter,
  // where axe's contrast rule then takes 25 s. A token's contrast depends only on its colour,
  // its font and the backgrounds behind it; of the tokens alike in all of these, one stays a
  // span, and while axe runs the others are their bare text, in the colour of the block
  // around them, which axe checks too. The blocks are put back as they were afterwards.
  const saved = [], seen = new Set(), grounds = new Map();
  const behind = el => {  // the backgrounds from the element out to the first opaque one
    if (!el) return '';
    if (!grounds.has(el)) {
      const b = getComputedStyle(el).backgroundColor;
      const opaque = !b.startsWith('rgba') && b !== 'transparent';  // rgb(): opaque
      grounds.set(el, opaque ? b : b + '/' + behind(el.parentElement));
    }
    return grounds.get(el);
  };
  const look = el => {
    const s = getComputedStyle(el);
    return [s.color, s.fontSize, s.fontWeight, s.fontStyle, s.opacity, s.textShadow,
            behind(el)].join('|');
  };
  // read every style first, then change the page: a change between two reads would make
  // the browser compute the styles of the whole page again
  const bare = [];
  for (const pre of document.querySelectorAll('div.highlight pre')) {
    saved.push([pre, pre.innerHTML]);
    // children before their parents, so that a line holding a kept token is kept
    for (const el of [...pre.querySelectorAll('*')].reverse()) {
      // a hidden token (in a closed solution) is no example: axe does not measure it
      const key = el.checkVisibility() ? look(el) : null;
      if (el.childElementCount === 0 && (key === null || seen.has(key) || !el.textContent.trim())) {
        bare.push(el);
      } else {
        seen.add(key);
      }
    }
  }
  for (const el of bare) el.replaceWith(el.textContent);
  for (const [pre] of saved) pre.normalize();  // one text node for each run of bare text
  try {
    const only = structure ? {type: 'tag', values: tags} : {type: 'rule', values: colourRules};
    const rules = structure ? Object.fromEntries(experimental.map(r => [r, {enabled: true}])) : {};
    const result = await axe.run(document, {runOnly: only, rules, resultTypes: ['violations']});
    return result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({
        target: n.target.join(' '), html: n.html.slice(0, 160),
        message: [...n.any, ...n.all, ...n.none].map(c => c.message).join(' ')}))}));
  } finally {
    for (const [pre, html] of saved) pre.innerHTML = html;
  }
}"""


def set_mode(page, mode: str) -> None:
    """The reader's system asks for light or dark; the theme follows it (default_mode auto)."""
    page.emulate_media(color_scheme=mode)
    page.wait_for_function("m => document.documentElement.dataset.theme === m", arg=mode)
    # the theme fades its colours from one mode to the other: measure them once they are there
    # (transitions only: an endless animation, a spinner, never finishes)
    page.wait_for_function(
        "() => !document.getAnimations().some(a => a instanceof CSSTransition && a.playState === 'running')",
        timeout=5000,
    )


def axe_violations(page, mode: str) -> list[dict]:
    """axe's WCAG 2.0/2.1 A and AA violations on the page in `mode` ("light" or "dark").

    In light mode every rule runs; the page's structure does not change with the mode, so in
    dark mode only the rules that look at colour run again.
    """
    if mode not in ("light", "dark"):
        raise ValueError(f"mode must be 'light' or 'dark', got {mode!r}")
    set_mode(page, mode)
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE_SCRIPT)
    return page.evaluate(
        AXE_RUN,
        {
            "tags": AXE_TAGS,
            "experimental": EXPERIMENTAL_RULES,
            "colourRules": COLOUR_RULES,
            "structure": mode == "light",
        },
    )


def report(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}, {len(v['nodes'])} element(s)")
        lines += [f"    {n['target']}: {n['message']}\n      {n['html']}" for n in v["nodes"][:5]]
    return "\n".join(lines)


# --- alternative text ------------------------------------------------------------------

IMAGES = """() => [...document.images].map(img => ({
  src: img.getAttribute('src'),
  alt: img.getAttribute('alt'),
  decorative: img.getAttribute('role') === 'presentation' || !!img.closest('[aria-hidden=true]'),
  figure: !!img.closest('div.cell_output, figure')}))"""
# what a reader learns nothing from: a file's path or name, or a word for "a picture"
PATH = re.compile(r"^\S*[\\/]\S*$|\w\.(png|jpe?g|gif|svg|webp)\b|_images/", re.IGNORECASE)
GENERIC = {
    "figure",
    "image",
    "img",
    "picture",
    "plot",
    "graph",
    "chart",
    "output",
    "png",
}
FIGURE_WORDS = 6  # a figure's alt says what it plots and what it shows: one sentence at least


def poor_alt_text(page) -> list[str]:
    """Each image of the page whose alt text is missing or says nothing of what it shows:
    empty (unless the image is marked decorative), a file path or name, a generic word; and
    for a figure (a cell's output), fewer than FIGURE_WORDS words."""
    poor = []
    for image in page.evaluate(IMAGES):
        alt = (image["alt"] or "").strip()
        if image["decorative"] and image["alt"] == "":
            continue
        words = re.findall(r"[A-Za-z0-9'-]+", alt)
        if not alt:
            why = "no alt text"
        elif PATH.search(alt):
            why = "its file name as alt text"
        elif {w.lower() for w in words} <= GENERIC:
            why = "a generic word as alt text"
        elif image["figure"] and len(words) < FIGURE_WORDS:
            why = f"a figure described in {len(words)} words"
        else:
            continue
        poor.append(f"{image['src']}: {why} ({alt[:60]!r})")
    return poor


# --- math ------------------------------------------------------------------------------


def equation_speech(page) -> list[str]:
    """The text that the browser's accessibility tree, which a screen reader reads, holds for
    each equation on the page that a reader can see: MathJax draws an equation with styled
    elements that are hidden from assistive technology, and puts beside them a MathML copy
    (its assistive MathML), which Chromium exposes as a `math` node."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    by_id = {n["nodeId"]: n for n in nodes}

    def text(node) -> str:
        if node.get("role", {}).get("value") == "StaticText":
            return node.get("name", {}).get("value", "")
        return "".join(text(by_id[c]) for c in node.get("childIds", []) if c in by_id)

    return [text(n) for n in nodes if n.get("role", {}).get("value") == "MathMLMath"]
