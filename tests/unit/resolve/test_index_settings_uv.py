"""How index options reach uv: plain ones as flags, those carrying credentials as uv's
environment variables (a command line is readable by every local user), in order."""

from __future__ import annotations

from pathlib import Path

from lambdalayer.resolve.index_settings import IndexSettings

PRIVATE = "https://aws:T0KEN@private.example/simple"
OTHER = "https://other.example/simple"


def test_options_without_credentials_stay_flags() -> None:
    settings = IndexSettings(index_url=OTHER, extra_index_urls=("https://a.example/simple",),
                             find_links=("./wheels",), offline=True)
    assert settings.uv_args() == ["--index-url", OTHER,
                                  "--extra-index-url", "https://a.example/simple",
                                  "--find-links", "./wheels", "--offline"]
    assert settings.uv_env() == {}


def test_an_option_with_credentials_moves_whole_to_the_environment_in_order() -> None:
    """uv ignores a variable when the flag is given, so all values of that option move."""
    settings = IndexSettings(index_url=OTHER, extra_index_urls=(OTHER + "2", PRIVATE))
    assert settings.uv_args() == ["--index-url", OTHER]
    assert settings.uv_env() == {"UV_EXTRA_INDEX_URL": f"{OTHER}2 {PRIVATE}"}
    assert "T0KEN" not in " ".join(settings.uv_args())


def test_an_index_url_with_credentials_moves_to_the_environment() -> None:
    settings = IndexSettings(index_url=PRIVATE, find_links=("https://u:p@f.example/links/",))
    assert settings.uv_args() == []
    assert settings.uv_env() == {"UV_INDEX_URL": PRIVATE,
                                 "UV_FIND_LINKS": "https://u:p@f.example/links/"}


def test_find_links_commas_survive_the_comma_separated_variable(tmp_path: Path) -> None:
    folder = tmp_path / "a,b"
    folder.mkdir()
    settings = IndexSettings(find_links=("https://u:p,q@f.example/x/", str(folder)))
    value = settings.uv_env()["UV_FIND_LINKS"]
    first, second = value.split(",")
    assert first == "https://u:p%2Cq@f.example/x/"
    assert second == folder.as_uri() and "%2C" in second
