"""Data sharing agreements: every required section is checked, on crafted incomplete inputs, for every track."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from statelab.datalabs import agreements as ag
from statelab.datalabs import deliverables as dl
from statelab.datalabs import tracks


@pytest.fixture(params=tracks.TRACK_NAMES)
def complete(request):
    return request.param, ag.example_inputs(request.param)


def test_examples_are_complete_and_render(complete, tmp_path):
    track, inputs = complete
    assert ag.check_agreement(inputs) == [] and ag.agreement_problems(inputs) == []
    doc = ag.draft_agreement(inputs, track=track)
    md = doc.render_markdown()
    for n, name in enumerate(ag.REQUIRED_SECTIONS, 1):
        assert f"## {n}. {ag.SECTION_TITLES[name]}" in md, name
    assert "to be completed" not in md and "Draft" not in md
    assert "<h2>6. Data elements</h2>" in doc.render_html()
    assert set(doc.save(tmp_path)) == {"md", "html", "json"}


def test_sections_are_the_documented_set():
    assert len(set(ag.REQUIRED_SECTIONS)) == len(ag.REQUIRED_SECTIONS) == 13
    assert set(ag.SECTION_TITLES) == set(ag.REQUIRED_SECTIONS)
    assert set(ag.SECTION_FIELDS) <= set(ag.REQUIRED_SECTIONS)


@pytest.mark.parametrize("section", ag.REQUIRED_SECTIONS)
@pytest.mark.parametrize("how", ["deleted", "none", "empty"])
def test_each_missing_section_is_flagged_alone(section, how):
    inputs = ag.example_inputs("safety_net")
    if how == "deleted":
        del inputs[section]
    elif how == "none":
        inputs[section] = None
    else:
        value = inputs[section]
        inputs[section] = ("" if isinstance(value, str) else pd.DataFrame() if isinstance(value, pd.DataFrame)
                           else type(value)())
    assert ag.check_agreement(inputs) == [section]
    problems = ag.agreement_problems(inputs)
    assert problems and all(p.startswith(f"{section}:") for p in problems)
    with pytest.raises(ag.MissingSectionsError) as err:
        ag.draft_agreement(inputs)
    assert err.value.missing == [section] and section in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, dl.MissingFieldsError)
    draft = ag.draft_agreement(inputs, draft=True).render_markdown()
    assert f"to be completed: {section}" in draft and "Draft" in draft


@pytest.mark.parametrize("section, entry", [(s, e) for s, entries in ag.SECTION_FIELDS.items() for e in entries])
def test_each_blank_entry_of_a_structured_section_is_flagged(section, entry):
    inputs = ag.example_inputs("workforce")
    inputs[section] = dict(inputs[section], **{entry: "TBD"})
    assert ag.check_agreement(inputs) == [section]
    assert ag.agreement_problems(inputs) == [f"{section}: {entry!r} is missing or empty"]


def test_placeholder_text_counts_as_missing():
    inputs = ag.example_inputs("workforce")
    inputs["purpose"] = "TODO"
    assert ag.check_agreement(inputs) == ["purpose"]


def test_all_sections_missing_are_all_named_in_order():
    assert ag.check_agreement({}) == list(ag.REQUIRED_SECTIONS)
    assert len(ag.agreement_problems({})) >= len(ag.REQUIRED_SECTIONS)


def test_several_missing_sections_at_once():
    inputs = ag.example_inputs("student_outcomes")
    for s in ("signatures", "purpose", "breach_notification"):
        del inputs[s]
    assert ag.check_agreement(inputs) == ["purpose", "breach_notification", "signatures"]


def test_parties_need_a_provider_a_recipient_and_complete_entries():
    inputs = ag.example_inputs("procurement")
    only_providers = [dict(p, role="provider") for p in inputs["parties"]]
    assert ag.check_agreement(dict(inputs, parties=only_providers)) == ["parties"]
    problems = ag.agreement_problems(dict(inputs, parties=only_providers))
    assert any("no party receives data" in p for p in problems)
    bad_role = copy.deepcopy(inputs["parties"])
    bad_role[0]["role"] = "owner"
    assert any("'owner'" in p for p in ag.agreement_problems(dict(inputs, parties=bad_role)))
    no_contact = copy.deepcopy(inputs["parties"])
    no_contact[1]["contact"] = ""
    assert ag.check_agreement(dict(inputs, parties=no_contact)) == ["parties"]


def test_every_party_must_sign():
    inputs = ag.example_inputs("safety_net")
    missing_one = inputs["signatures"][1:]
    assert ag.check_agreement(dict(inputs, signatures=missing_one)) == ["signatures"]
    assert any(repr(inputs["parties"][0]["name"]) in p for p in ag.agreement_problems(dict(inputs, signatures=missing_one)))


def test_data_elements_need_table_and_column():
    inputs = ag.example_inputs("safety_net")
    elements = inputs["data_elements"].to_dict(orient="records")
    elements[0]["column"] = None
    assert ag.check_agreement(dict(inputs, data_elements=elements)) == ["data_elements"]
    assert ag.check_agreement(dict(inputs, data_elements="all of it")) == ["data_elements"]


def test_wrong_shapes_are_flagged_not_crashing():
    inputs = ag.example_inputs("workforce")
    assert ag.check_agreement(dict(inputs, security="encrypted")) == ["security"]
    assert ag.check_agreement(dict(inputs, parties=["us", "them"])) == ["parties"]


def test_unknown_keys_are_reported_but_do_not_block():
    inputs = dict(ag.example_inputs("workforce"), secuirty={"storage": "x"})
    assert ag.check_agreement(inputs) == []
    assert any(p.startswith("secuirty:") for p in ag.agreement_problems(inputs))


def test_inputs_must_be_a_dict():
    with pytest.raises(TypeError, match="list"):
        ag.check_agreement([("purpose", "x")])


@pytest.mark.parametrize("track", tracks.TRACK_NAMES)
def test_data_elements_come_from_the_catalog(track):
    t = tracks.get_track(track)
    df = ag.data_elements_for(track)
    needed = {r for n in t.needs for r in n.columns}
    assert needed <= set(df["table"] + "." + df["column"])
    assert df["description"].str.len().gt(0).all()
    assert not df.duplicated(["table", "column"]).any()


def test_parties_are_the_agencies_holding_the_sources():
    parties = ag.parties_for("workforce")
    assert [p["role"] for p in parties][-1] == "recipient"
    assert {p["name"] for p in parties[:-1]} == {"State workforce agency, UI benefits division",
                                                 "State workforce agency, UI tax division"}
