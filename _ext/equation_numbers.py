"""Every displayed equation of the book numbered, as Sphinx numbers a labelled one.

Sphinx's `math_number_all` numbers the equations of its `math` directive only, and the book
writes displayed math as MyST's `$$ ... $$`, which Sphinx numbers only when it is labelled.
This transform gives every unlabelled one a label of its own, so that, with `numfig`, each
is numbered by chapter, "(2.3)", on the pages and in the PDF. The equations of a solution
stay unnumbered: the students' build has no solutions, and an instructor must be able to
cite an equation by the same number in both builds. (amsmath environments keep their own
numbering, and an output of a cell is no equation of the book.)
"""

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_node


def left_unnumbered(node) -> bool:
    """In a solution, or in a cell's output: myst-nb keeps every format of an output, and a
    listing's LaTeX (which the pages do not show) is a math block too."""
    parent = node.parent
    while parent is not None:
        if isinstance(parent, solution_node) or parent.get("nb_element") == "cell_code_output":
            return True
        parent = parent.parent
    return False


class NumberEveryEquation(SphinxTransform):
    # after sphinx-exercise merges each solution into one node (10), and after the students'
    # build removes them (11, _ext/students.py)
    default_priority = 12

    def apply(self):
        domain = self.env.get_domain("math")
        docname = self.env.docname
        for node in list(self.document.findall(nodes.math_block)):
            if node.get("label") or node.get("nowrap") or left_unnumbered(node):
                continue
            label = f"{docname}:{self.env.new_serialno('minivlm#equations')}"
            node["label"] = label
            domain.note_equation(docname, label, location=node)
            node["number"] = domain.get_equation_number_for(label)
            node["docname"] = docname
            target = nodes.target("", "", ids=[nodes.make_id(f"equation-{label}")])
            self.document.note_explicit_target(target)
            node.parent.insert(node.parent.index(node), target)


def setup(app):
    app.add_transform(NumberEveryEquation)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
