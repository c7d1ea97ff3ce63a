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
