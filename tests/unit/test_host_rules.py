"""Rules for code that must behave the same on Windows and macOS, checked in the
source: every low-level open is binary, every text subprocess decodes UTF-8."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lambdalayer"


def _calls(attribute: str) -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == attribute and isinstance(node.func.value, ast.Name)):
                found.append((f"{path.relative_to(PACKAGE)}:{node.lineno}", node))
    return found


def test_every_os_open_is_binary() -> None:
    opens = [(where, call) for where, call in _calls("open")
             if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
             and call.func.value.id == "os"]
    assert opens
    missing = [where for where, call in opens if "O_BINARY" not in ast.unparse(call)
               and "O_BINARY" not in ast.unparse(call.args[1] if len(call.args) > 1 else call)]
    # The flags may be built beforehand: then the function must mention O_BINARY.
    for where in list(missing):
        path, line = where.split(":")
        text = (PACKAGE / path).read_text("utf-8").splitlines()
        if any("O_BINARY" in row for row in text[max(0, int(line) - 6):int(line)]):
            missing.remove(where)
    assert missing == []


def test_every_text_subprocess_decodes_utf8() -> None:
    calls = _calls("run") + _calls("Popen")
    text = [(where, call) for where, call in calls
            if any(k.arg == "text" for k in call.keywords)]
    assert text
    missing = [where for where, call in text
               if not any(k.arg == "encoding" and ast.unparse(k.value) == "'utf-8'"
                          for k in call.keywords)]
    assert missing == []
