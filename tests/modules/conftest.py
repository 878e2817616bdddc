"""Fixtures the module tests share: the course data at the two seeds every lesson statement is checked on."""

import pytest

import synthetic_data as sd

#: A lesson's statement about the data must hold at the course seed and at one other seed (issue 16).
COURSE_SEEDS = (sd.DEFAULT_SEED, 7)


@pytest.fixture(scope="module", params=COURSE_SEEDS, ids=lambda s: f"seed{s}")
def course_con(request, course_dataset_at):
    """A DuckDB connection to the ``default`` profile, truth attached, once per seed and test module."""
    con = sd.connect(course_dataset_at(request.param), truth=True)
    yield con
    con.close()
