"""Cap the size of what a graded notebook keeps from its outputs.

nbgrader's ``LimitOutput`` counts lines, so one ``print`` of a 30 MB string passes it
whole into the autograded notebook, the feedback page and every later read of both.
:class:`CapOutputs` runs after it in the autograde pipeline and cuts every text output
to a number of characters and drops oversized images, saying what it removed.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

__all__ = ["CapOutputs"]


class CapOutputs(NbGraderPreprocessor):
    """Truncate long text outputs and drop large images in every code cell."""

    max_chars = Integer(20_000, help="Characters kept of each text output").tag(config=True)
    max_image_bytes = Integer(2_000_000, help="Largest image (base64 bytes) kept").tag(config=True)

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return f"{text[:self.max_chars]}\n... [{len(text) - self.max_chars:,} characters removed by the grader]\n"

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        for out in cell.get("outputs", []):
            if "text" in out:
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                out["text"] = self._cut(text)
            data = out.get("data", {})
            for mime in list(data):
                value = data[mime] if isinstance(data[mime], str) else "".join(map(str, data[mime]))
                if mime.startswith("image/") and len(value) > self.max_image_bytes:
                    data[mime] = ""
                    data["text/plain"] = f"[an image of {len(value):,} bytes was removed by the grader]"
                elif mime.startswith("text/") and isinstance(data[mime], (str, list)):
                    data[mime] = self._cut(value)
            if out.get("output_type") == "error":
                out["traceback"] = [self._cut(line) for line in out.get("traceback", [])[-50:]]
        return cell, resources
