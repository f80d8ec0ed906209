"""The book by keyboard and by screen reader, and each accessibility check shown to fail.

tests/test_browser.py measures every page of both builds with axe-core in light and dark mode
and checks every image's alt text (tests/a11y.py). Here:

- a screen reader gets text for every equation (MathJax's assistive MathML);
- the Tab key reaches every control of a chapter, each with a visible focus ring, and the
  Enter key works the theme switch, the search, the launch buttons and the solutions;
- every check, on a built page changed to break it, reports the break: an image without alt
  text, text below contrast, a control named otherwise than it reads, the bibliography's
  deprecated role, an equation without its MathML, a control that Tab cannot reach, a focus
  ring taken away.

`make book` must run first; `make test` does.
"""

from __future__ import annotations

import pytest
from a11y import axe_violations, equation_speech, poor_alt_text
from test_browser import REPO, Visit

CHAPTER = "html/chapters/summary.html"  # the shortest chapter: math, a figure, solutions
# what a keyboard can focus, as the HTML standard and ARIA define it
FOCUSABLE = (
    "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), "
    "textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])"
)
MARK_FOCUSABLE = f"""() => {{
  const shown = [...document.querySelectorAll("{FOCUSABLE}")]
    .filter(e => e.checkVisibility({{visibilityProperty: true}}) && !e.closest('[inert]'));
  shown.forEach((e, i) => e.dataset.kbd = i);
  return shown.length;
}}"""
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
    || (s.boxShadow !== 'none' && !s.boxShadow.startsWith('rgba(0, 0, 0, 0)'));
  return {kbd: e.dataset.kbd ?? null, what: `${e.tagName} ${e.getAttribute('aria-label')
    || e.textContent.trim().slice(0, 40)}`, ring};
}"""


@pytest.fixture
def chapter(browser, server):
    visit = Visit(browser, f"{server}/{CHAPTER}")
    yield visit
    visit.close()


def tab_through(page, limit: int = 400) -> list[dict]:
    """Press Tab from the top of the page until the focus leaves the page; what each press
    focused, in order."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop is None:
            return stops
        stops.append(stop)
    raise AssertionError(f"Tab did not leave the page in {limit} presses")


def tab_to(page, selector: str, limit: int = 400) -> None:
    """Press Tab from where the focus is until `selector` has it; fail if it never does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab does not reach {selector}")


# --- math ------------------------------------------------------------------------------


def test_a_screen_reader_gets_text_for_every_equation(browser, server):
    visit = Visit(browser, f"{server}/html/chapters/attention.html")
    page = visit.page
    # every typeset equation carries its MathML copy, and hides its drawing from the reader
    containers, copies, hidden = page.evaluate("""() => [
      document.querySelectorAll('mjx-container').length,
      document.querySelectorAll('mjx-container > mjx-assistive-mml > math').length,
      document.querySelectorAll('mjx-container > mjx-math[aria-hidden=true]').length]""")
    assert containers > 100 and copies == containers and hidden == containers
    # what the accessibility tree, which a screen reader reads, holds for the equations that
    # are shown (those in a closed solution are not in the tree until it opens)
    shown = page.evaluate("""() => [...document.querySelectorAll('mjx-container')].filter(c =>
      c.checkVisibility() && !c.closest('.toggle-hidden > :not(.admonition-title)')).length""")
    speech = equation_speech(page)
    assert len(speech) == shown and all(text.strip() for text in speech)
    # the chapter's defining equation reads as its symbols, in order
    assert any(t.startswith("Attention(𝑄,𝐾,𝑉)=softmax(") for t in speech), speech[:5]
    visit.close()


def test_the_math_check_fails_on_an_equation_without_its_mathml(browser, server):
    visit = Visit(browser, f"{server}/html/chapters/attention.html")
    page = visit.page
    before = len(equation_speech(page))
    page.evaluate("() => document.querySelectorAll('mjx-assistive-mml').forEach(m => m.remove())")
    assert before > 100 and equation_speech(page) == []
    visit.close()


# --- keyboard --------------------------------------------------------------------------


def test_tab_reaches_every_control_of_a_chapter_with_a_visible_focus_ring(chapter):
    page = chapter.page
    expected = page.evaluate(MARK_FOCUSABLE)
    stops = tab_through(page)
    reached = {s["kbd"] for s in stops}
    missed = sorted(set(map(str, range(expected))) - reached, key=int)
    assert expected > 50 and not missed, page.evaluate(
        "ks => ks.map(k => document.querySelector(`[data-kbd='${k}']`).outerHTML.slice(0, 120))",
        missed,
    )
    without_ring = [s["what"] for s in stops if not s["ring"]]
    assert not without_ring, f"focused without a visible focus ring: {without_ring}"


def test_the_theme_switch_works_by_keyboard(chapter):
    page = chapter.page
    tab_to(page, "button.theme-switch-button")
    themes, names = [], set()
    for _ in range(3):  # light, dark, and the system's
        page.keyboard.press("Enter")
        themes.append(page.evaluate("() => document.documentElement.dataset.theme"))
        names.add(page.locator("button.theme-switch-button").first.get_attribute("aria-label"))
    assert {"light", "dark"} <= set(themes), themes
    # its name says the mode it is in, as its icon shows
    assert names == {"Color mode: Light", "Color mode: Dark", "Color mode: System Settings"}, names


def test_the_search_works_by_keyboard(chapter):
    page = chapter.page
    tab_to(page, "button.search-button-field")
    page.keyboard.press("Enter")
    field = page.locator("input[name=q]:focus")
    field.wait_for(timeout=5000)  # the search dialog opened, its field has the focus
    page.keyboard.type("InfoNCE")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "search.html?q=InfoNCE" in page.url
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=20000)
    hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert any(h.split("?")[0].split("#")[0] == "chapters/clip.html" for h in hrefs), hrefs
    tab_to(page, "#search-results a[href^='chapters/clip.html']")  # and the results by Tab


def test_the_launch_button_opens_colab_by_keyboard(chapter):
    page = chapter.page
    tab_to(page, "button[aria-label='Launch interactive content']")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-expanded')") == "true"
    tab_to(page, "a[href*='colab.research.google.com']", limit=3)  # the menu's first item
    with page.context.expect_page():  # the link opens a new tab, for Colab
        page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    colab = f"https://colab.research.google.com/github/{REPO}/"
    assert any(url.startswith(colab) for url in chapter.outside), chapter.outside


def test_a_solution_opens_and_closes_by_keyboard(chapter):
    page = chapter.page
    solution = page.locator("div.solution").first
    content = solution.locator("section").first
    assert not content.is_visible()
    tab_to(page, "div.solution button.toggle-button")
    page.keyboard.press("Enter")
    content.wait_for(state="visible", timeout=5000)
    assert page.evaluate("() => document.activeElement.getAttribute('aria-expanded')") == "true"
    page.keyboard.press("Enter")
    content.wait_for(state="hidden", timeout=5000)


def test_a_hidden_cell_opens_by_keyboard(chapter):
    page = chapter.page
    details = page.locator("details.hide").first
    assert not details.evaluate("d => d.open")
    tab_to(page, "details.hide > summary")
    page.keyboard.press("Enter")
    assert details.evaluate("d => d.open")


# --- each check, on a page made to break it ------------------------------------------------


def test_the_keyboard_checks_fail_on_an_unreachable_control_and_a_hidden_ring(chapter):
    page = chapter.page
    page.evaluate("() => document.querySelector('button.theme-switch-button').tabIndex = -1")
    with pytest.raises(AssertionError, match="Tab does not reach"):
        tab_to(page, "button.theme-switch-button")
    page.reload()
    page.add_style_tag(content="a:focus-visible { outline: none !important; }")
    stops = tab_through(page)
    assert any(not s["ring"] and s["what"].startswith("A ") for s in stops)


def test_the_alt_text_check_fails_on_images_without_meaningful_alt(chapter):
    page = chapter.page
    assert poor_alt_text(page) == []
    page.evaluate("""() => {
      const figure = document.querySelector('div.cell_output img');
      const output = figure.parentElement;
      const copy = () => output.appendChild(figure.cloneNode());
      copy().removeAttribute('alt');
      copy().alt = figure.getAttribute('src');
      copy().alt = 'Figure';
      copy().alt = 'A plot of time';
    }""")
    poor = poor_alt_text(page)
    assert [p.split(": ")[1].split(" (")[0] for p in poor] == [
        "no alt text",
        "its file name as alt text",
        "a generic word as alt text",
        "a figure described in 4 words",
    ], poor


def test_axe_fails_on_text_below_contrast_in_either_mode(chapter):
    page = chapter.page
    page.add_style_tag(content="html[data-theme=dark] p { color: #555 !important; }")
    assert axe_violations(page, "light") == []
    ids = {v["id"] for v in axe_violations(page, "dark")}
    assert "color-contrast" in ids
    page.add_style_tag(content="html[data-theme=light] span.n { color: #ccc !important; }")
    contrast = [v for v in axe_violations(page, "light") if v["id"] == "color-contrast"]
    # a name in a code cell, found although most of the code's tokens are not measured one by one
    assert contrast and any(
        "span.n" in n["target"] or 'class="n"' in n["html"] for n in contrast[0]["nodes"]
    ), contrast


def test_axe_fails_on_a_control_named_otherwise_than_it_reads(chapter):
    page = chapter.page
    assert axe_violations(page, "light") == []
    # the theme's own name for the search button, which reads "Search Ctrl+K"
    page.evaluate(
        "() => document.querySelectorAll('button.search-button-field').forEach(b => b.setAttribute('aria-label', 'Search'))"
    )
    ids = {v["id"] for v in axe_violations(page, "light")}
    assert "label-content-name-mismatch" in ids, ids


def test_axe_fails_on_the_bibliographys_deprecated_role(browser, server):
    visit = Visit(browser, f"{server}/html/references.html")
    page = visit.page
    assert axe_violations(page, "light") == []
    page.evaluate(
        "() => document.querySelectorAll('.citation').forEach(c => c.setAttribute('role', 'doc-biblioentry'))"
    )
    ids = {v["id"] for v in axe_violations(page, "light")}
    assert {"aria-deprecated-role", "aria-required-children"} <= ids, ids
    visit.close()
