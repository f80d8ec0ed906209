"""Each script once per page.

sphinx-thebe registers its configuration script (`const THEBE_JS_URL = ...`) every time
Sphinx reads documents, and Jupyter Book reads them more than once, so pages carried it
twice and the browser refused the second copy with "Identifier 'THEBE_JS_URL' has already
been declared". This keeps the first of identical scripts.
"""


def dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        # an inline script may be registered with filename None or "": the same script
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    # in place: the list is the builder's, where handlers after this one add page scripts
    context["script_files"][:] = kept


def setup(app):
    # early: Sphinx stops calling handlers of this event at the first that returns a value
    app.connect("html-page-context", dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
