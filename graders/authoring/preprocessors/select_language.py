"""Keep one language's instruction cells when nbgrader generates the student version."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from graders.authoring.source import select_language


class SelectLanguage(NbGraderPreprocessor):
    """Drop markdown cells marked (metadata.graders.lang) for another language than `lang`."""

    lang = Unicode("en", help="Language of the generated notebook: en or fr").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        return select_language(nb, self.lang), resources
