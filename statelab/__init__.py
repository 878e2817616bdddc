"""Course helpers shared by the modules, assignments and the book.

Learner notebooks import from here instead of defining helpers inline.
"""

from . import plotting

__all__ = ["plotting"]
