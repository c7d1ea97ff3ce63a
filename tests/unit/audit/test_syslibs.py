"""The base-image library table: its evidence and its validator."""

from __future__ import annotations

import pytest

from lambdalayer.audit.syslibs import load_base_image_libs, parse_base_image_libs


def test_shipped_table_follows_the_research_note() -> None:
    table = load_base_image_libs()
    al2, al2023 = table["al2"], table["al2023"]
    # Seen absent (live listings and error threads): errors, on both OSes where so.
    for soname in ("libexpat.so.1", "libcrypt.so.1", "libGL.so.1", "libX11.so.6"):
        assert soname in al2.absent and soname in al2023.absent
    assert {"libglib-2.0.so.0", "libffi.so.8", "libssl.so.3"} <= al2.absent
    assert "libffi.so.6" in al2023.absent
    # Seen present: silent (no more "libz.so.1 not verified" on numpy layers).
    assert {"libz.so.1", "libstdc++.so.6", "libffi.so.6", "libssl.so.10"} <= al2.present
    assert {"libz.so.1", "libffi.so.8", "libssl.so.3", "libglib-2.0.so.0"} <= al2023.present
    assert "libnsl.so.1" in al2023.unverified
    # Every entry cites where the claim comes from.
    for libs in table.values():
        assert set(libs.sources) == libs.present | libs.absent | libs.unverified
        assert all(source.strip() for source in libs.sources.values())


@pytest.mark.parametrize(("text", "message"), [
    ('[os.x.present]\n"libc.so.6" = ""\n[os.x.absent]\n[os.x.unverified]\n', "os.x.present"),
    ('[os.x.present]\n[os.x.absent]\n"notalib" = "S1"\n[os.x.unverified]\n', "os.x.absent"),
    ('[os.x.present]\n"libz.so.1" = "S1"\n[os.x.absent]\n"libz.so.1" = "S2"\n'
     '[os.x.unverified]\n', "both present and absent"),
    ('[os.x.present]\n[os.x.absent]\n', "os.x.unverified"),
])
def test_validator_names_the_bad_field(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_base_image_libs(text)
