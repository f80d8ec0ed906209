"""The students' build: every exercise kept, every solution removed.

sphinx-exercise's own `hide_solutions` drops the opening of a gated solution
(`solution-start`) but not its code cells or its `solution-end`, which then fails the
build. This transform runs after sphinx-exercise has merged each gated solution into one
node, and removes the whole node when `students_build` is set (`make students`).
The build is also tagged `students`, for what the pages say to students only.
"""

from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_node


class RemoveSolutions(SphinxTransform):
    default_priority = 11  # after sphinx-exercise's MergeGatedSolutions (10)

    def apply(self):
        if not self.config.students_build:
            return
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)


def tag_students(app, config):
    """The tag `students` in the students' build, for pages that say something else to
    students: ```{only} students``` and ```{only} not students``` in the intro."""
    if config.students_build:
        app.tags.add("students")


def setup(app):
    app.add_config_value("students_build", False, "env")
    app.connect("config-inited", tag_students)
    app.add_transform(RemoveSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
