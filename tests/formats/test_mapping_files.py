"""The shipped mapping files of a folder: names are file stems, and nothing outside the folder is reachable."""

from __future__ import annotations

import pytest

from evrevops.formats.mapping_files import MappingSpec, shipped_file, shipped_names


def test_shipped_names_and_files(tmp_path):
    for stem in ("b_two", "a_one"):
        (tmp_path / f"{stem}.toml").write_text('description = "x"\n')
    (tmp_path / "notes.txt").write_text("")
    assert shipped_names(tmp_path) == ["a_one", "b_two"]
    assert shipped_file(tmp_path, "b_two", "test") == tmp_path / "b_two.toml"


@pytest.mark.parametrize("name", ["../a_one", "a_one.toml", "A_ONE", "", "c", None])
def test_an_unknown_name_is_refused(tmp_path, name):
    (tmp_path / "a_one.toml").write_text("")
    with pytest.raises(ValueError) as exc:
        shipped_file(tmp_path, name, "test")
    assert str(exc.value) == f"unknown test mapping {name!r}; known: a_one"


def test_mapping_spec_description():
    assert MappingSpec("m", {"description": "Mine"}).description == "Mine"
    assert MappingSpec("m", {}).description == ""
