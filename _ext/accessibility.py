"""What the HTML of Sphinx and the theme needs for assistive technology (WCAG 2.1 AA).

docutils writes a bibliography as a `role="list"` whose entries carry
`role="doc-biblioentry"`. DPUB-ARIA 1.1 deprecates that role, with list items as its
replacement, and a list whose children are not list items is no list to a screen reader:
axe reports both (`aria-deprecated-role`, `aria-required-children`). Each entry becomes a
list item, which is what the reference list is.

myst-nb names the toggle of a hidden code cell "Toggle hidden content" (aria-label) while
it reads "Show code cell content": a speech user who says what they see names no control
(WCAG 2.5.3, label in name). Without the label the toggle is named by the words it shows.

The link colour and the rest of what the theme's CSS lacks are in _static/custom.css,
what its scripts lack in _static/accessibility.js; the
browser tests (tests/test_browser.py) measure every page of both builds with axe-core.
"""

DEPRECATED = 'role="doc-biblioentry"'
UNLIKE_ITS_TEXT = '<summary aria-label="Toggle hidden content">'


def bibliography_as_list(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and DEPRECATED in body:
        context["body"] = body.replace(DEPRECATED, 'role="listitem"')


def toggles_named_by_their_text(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and UNLIKE_ITS_TEXT in body:
        context["body"] = body.replace(UNLIKE_ITS_TEXT, "<summary>")


def setup(app):
    app.connect("html-page-context", bibliography_as_list)
    app.connect("html-page-context", toggles_named_by_their_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
