"""Course helpers shared by the modules, assignments and the book.

Learner notebooks import from here instead of defining helpers inline::

    from statelab import measures, plotting
    plotting.use_theme()

Submodules load on first use, so ``import statelab`` stays quick and a notebook that never
links records does not import Splink.
"""

import importlib

#: One submodule per topic; each has its own ``__all__``.
_SUBMODULES = (
    "capstone",    # the capstone project menu (module 13)
    "charts",      # chart helpers with alt text built in (module 11)
    "disclosure",  # export rules: rounding, minimum cells, dominance, complementary suppression (module 12)
    "identifiers", # the one SSN rule: placeholders, status, cleaning (every module that links records)
    "imputation",  # missing outcomes: group-mean, regression and hot-deck imputation, non-response weights (module 8)
    "inference",   # training-effect estimators and the analysis frame (module 8)
    "linkage",     # deterministic and Splink linkage, quality against the truth (module 3)
    "measures",    # employer job flows and labor demand (module 7)
    "outcomes",    # employment outcomes after exit: the WIOA primary indicators (modules 6, 11 and 13)
    "panel",       # panels from wage records: event studies, person fixed effects (module 8, lesson 3)
    "plotting",    # the course theme and show(fig, alt=...)
    "pprl",        # privacy-preserving linkage: Bloom-filter name encodings and the Dice coefficient (module 3)
    "prediction",  # claim features, temporal split, precision at k, group metrics (modules 9 and 10)
    "project",     # the team project: scoping document, numbers read back from the export package
    "quiz",        # formative checks: a multiple-choice question before each collapsed answer
    "reveal",      # the answer key for instructors' reveals: opened outside the published book only
    "segments",    # k-means segments: choosing k, stability across seeds, what separates clusters (module 7)
    "snapshot",    # point-in-time recipient counts and co-enrollment (module 4)
    "tables",      # tables formatted for people: percentages, dollars, separators, no index column
    "uncertainty", # intervals for rates and growth rates, rankings corrected for many comparisons (7, 10, 11)
    "weighting",   # propensity scores, IPW and doubly robust estimators, overlap and balance (module 8)
)

__all__ = list(_SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'statelab' has no attribute {name!r}; submodules: {', '.join(_SUBMODULES)}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
