"""A distribution's licence from its METADATA: expression, classifiers, field, unknown."""

from __future__ import annotations

from pathlib import Path

from lambdalayer.supply.licences import Licence, licence_from_metadata, read_licence


def test_the_expression_comes_first() -> None:
    found = licence_from_metadata([("License-Expression", "MIT OR Apache-2.0"),
                                   ("Classifier", "License :: OSI Approved :: MIT License")])
    assert found == Licence(expression="MIT OR Apache-2.0", source="License-Expression")


def test_classifiers_then_a_short_field_then_unknown() -> None:
    found = licence_from_metadata([("Classifier", "License :: OSI Approved :: BSD License"),
                                   ("Classifier", "Programming Language :: Python"),
                                   ("License", "BSD")])
    assert (found.names, found.source, found.text) == (("BSD License",), "classifier",
                                                       "BSD License")
    assert licence_from_metadata([("License", "BSD-3-Clause")]).text == "BSD-3-Clause"
    whole_text = "Copyright (c) 2020\n\nPermission is hereby granted..." * 3
    assert licence_from_metadata([("License", whole_text)]).text == "unknown"
    assert licence_from_metadata([("License", "UNKNOWN")]).source == "unknown"


def test_a_missing_metadata_file_is_unknown(tmp_path: Path) -> None:
    assert read_licence(tmp_path / "x-1.dist-info").text == "unknown"


def _expr(text: str) -> Licence:
    return Licence(expression=text, source="License-Expression")


def test_a_choice_that_offers_an_allowed_licence_passes() -> None:
    from lambdalayer.supply.licences import denied_terms

    assert denied_terms(_expr("GPL-3.0-only OR MIT"), ["GPL-3.0-only"]) == []
    assert denied_terms(_expr("(GPL-3.0-only OR MIT) AND BSD-3-Clause"), ["gpl-3.0-only"]) == []
    assert denied_terms(_expr("GPL-3.0-only OR AGPL-3.0-only"), ["*GPL-*"]) == [
        "GPL-3.0-only", "AGPL-3.0-only"]


def test_and_with_a_denied_licence_fails_and_names_it() -> None:
    from lambdalayer.supply.licences import denied_terms

    assert denied_terms(_expr("MIT AND GPL-3.0-only"), ["GPL-3.0-only"]) == ["GPL-3.0-only"]
    assert denied_terms(_expr("MIT AND (GPL-2.0-only OR GPL-3.0-only)"), ["GPL-*"]) == [
        "GPL-2.0-only", "GPL-3.0-only"]
    # An exception does not make it another licence; the deprecated GNU ids are the same.
    assert denied_terms(_expr("GPL-2.0-only WITH Classpath-exception-2.0"),
                        ["GPL-2.0-only"]) == ["GPL-2.0-only WITH Classpath-exception-2.0"]
    assert denied_terms(_expr("GPL-3.0+"), ["GPL-3.0-or-later"]) == ["GPL-3.0+"]
    assert denied_terms(_expr("MIT"), ["GPL-3.0-only"]) == []


def test_classifiers_each_count_and_unknown_can_be_denied() -> None:
    from lambdalayer.supply.licences import denied_terms

    gpl = Licence(names=("GNU General Public License v3 (GPLv3)", "MIT License"),
                  source="classifier")
    assert denied_terms(gpl, ["GPL-3.0-only"]) == ["GNU General Public License v3 (GPLv3)"]
    assert denied_terms(gpl, ["MIT License"]) == ["MIT License"]
    assert denied_terms(Licence(), ["unknown"]) == ["unknown"]
    assert denied_terms(Licence(), ["GPL-3.0-only"]) == []
    assert denied_terms(Licence(names=("GPL v3 or so",), source="License"),
                        ["gpl v3 or so"]) == ["GPL v3 or so"]


def test_a_pattern_is_one_licence() -> None:
    import pytest

    from lambdalayer.supply.licences import check_pattern

    assert check_pattern(" AGPL-* ") == "AGPL-*"
    assert check_pattern("GPL-2.0-only  WITH Classpath-exception-2.0") == \
        "GPL-2.0-only WITH Classpath-exception-2.0"
    with pytest.raises(ValueError, match="repeat the option"):
        check_pattern("MIT OR GPL-3.0-only")
