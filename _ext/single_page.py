"""What the single-page build (`make pdf`) needs that Sphinx does not give it.

Sphinx hands a builder the visitors that extensions register for its name, and falls back
to those of its format ("html") only when no extension registered any for its name. Some
extension registers visitors for "singlehtml", so the single-page build loses the "html"
ones of the others: myst-nb's hidden-cell node then stops it ("unknown node type:
HideCodeCellNode"). The single-page builder gets every "html" visitor that it lacks.
"""


def html_visitors_for_the_single_page(app) -> None:
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    for node, visitors in handlers.get("html", {}).items():
        handlers.setdefault("singlehtml", {}).setdefault(node, visitors)


def setup(app):
    app.connect("builder-inited", html_visitors_for_the_single_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
