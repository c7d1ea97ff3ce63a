"""Sizes for people: one spelling everywhere (decimal units, as Lambda's limits are quoted)."""

from __future__ import annotations


def format_size(size: int) -> str:
    """`size` bytes as "812 B", "101.7 KB", "45.0 MB" or "1.2 GB"."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def megabytes(size: int) -> str:
    """`size` bytes in MB with one decimal, e.g. "262.1 MB" (for limits and savings)."""
    return f"{size / 1e6:.1f} MB"
