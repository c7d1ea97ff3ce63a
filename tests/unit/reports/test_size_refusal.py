"""A too-large layer's refusal names the leaner variant of a package that has one."""

from __future__ import annotations

from lambdalayer.reports.sizing import PackageSize, SavingsEstimate, SizeReport, refusal_breakdown


def _report(*names: str) -> SizeReport:
    return SizeReport(total=350_000_000, largest_files=(), packages=tuple(
        PackageSize(name=name, version="1.0", size=300_000_000 // len(names), files=10)
        for name in names))


def test_a_package_with_a_lean_variant_is_named_with_it() -> None:
    text = refusal_breakdown(_report("opencv-python", "numpy"),
                             SavingsEstimate(options=(), combined=0))
    assert "Instead of opencv-python: opencv-python-headless (`-p opencv-python-headless`" \
        in text
    assert "Instead of numpy" not in text


def test_no_variant_no_line() -> None:
    text = refusal_breakdown(_report("numpy", "pandas"), SavingsEstimate(options=(), combined=0))
    assert "Instead of" not in text
