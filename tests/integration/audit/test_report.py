"""The HTML report, rendered by a real headless Chromium (Debian's chromium package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import run_cli

pytestmark = pytest.mark.network

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"

# Injected first in <head>: records uncaught errors, rejections and console.error,
# then (after the page's own scripts ran) hovers the second package and writes
# what it saw into the DOM, which --dump-dom prints.
RECORDER = """<script>window.__errs=[];
addEventListener('error',function(e){__errs.push('ERR '+e.message+':'+e.lineno)});
addEventListener('unhandledrejection',function(e){__errs.push('REJ '+e.reason)});
var __ce=console.error;console.error=function(){__errs.push('CERR '+[].join.call(arguments,' '));
__ce.apply(console,arguments)};
addEventListener('load',function(){setTimeout(function(){
var first=document.getElementById('detail').textContent;
var g=document.querySelectorAll('#treemap g.d1')[1];
if(g)g.querySelector('rect').dispatchEvent(new MouseEvent('mousemove',{bubbles:true}));
document.body.setAttribute('data-errors',String(__errs.length));
document.body.setAttribute('data-first',first);
document.body.setAttribute('data-hover',document.getElementById('detail').textContent);
var p=document.createElement('pre');p.id='__errors';p.textContent=__errs.join('\\n');
document.body.appendChild(p)},0)});</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium is not None
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=5000", "--window-size=1300,1000", *args],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("report")
    page = work / "layer.html"
    run = run_cli("build", "web", "-p", "pg8000==1.31.2", "-p", "idna==3.7", "-p", "six==1.17.0",
                  "--runtime", "python3.12", "--arch", "x86_64", "--out", str(work / "dist"),
                  "--report", str(page), "--json", cwd=work)
    assert run.returncode == 0, run.stderr
    return page, run.json()


def test_report_is_self_contained(report: tuple[Path, dict]) -> None:
    page, doc = report
    assert doc["reports"] == [str(page)]
    text = page.read_text("utf-8")
    # Nothing is fetched: no src/href at all, and a policy that forbids loading anything.
    assert not re.search(r"\b(src|href)\s*=", text)
    assert "default-src 'none'" in text
    names = {p["name"] for p in doc["artifacts"][0]["packages"]}
    assert {"pg8000", "idna", "six", "scramp", "asn1crypto"} <= names


def test_report_renders_in_chromium_without_errors(report: tuple[Path, dict],
                                                   tmp_path: Path) -> None:
    require(shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None,
            "Debian's chromium is not installed; .ci/run installs it")
    page, doc = report
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text("utf-8").replace("<head>", "<head>" + RECORDER, 1))
    dumped = _chromium("--dump-dom", probed.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert not re.search(r"INFO:CONSOLE.*Uncaught", dumped.stderr), dumped.stderr[-2000:]
    dom = dumped.stdout
    errors = re.search(r'data-errors="(\d+)"', dom)
    assert errors and errors.group(1) == "0", re.search(r'<pre id="__errors">.*?</pre>', dom,
                                                        re.S)
    # The largest packages are labelled in the rendered treemap, with their versions.
    packages = sorted(doc["artifacts"][0]["packages"], key=lambda p: -p["size"])
    labels = re.findall(r'<text class="label"[^>]*font-weight="bold"[^>]*>([^<]+)</text>', dom)
    for package in packages[:2]:
        assert f"{package['name']} {package['version']}" in labels, labels
    # The script ran: the largest package is described, and hovering another shows it.
    first = re.search(r'data-first="([^"]*)"', dom)
    hover = re.search(r'data-hover="([^"]*)"', dom)
    assert first and first.group(1).startswith(f"{packages[0]['name']} ")
    assert "zipped" in first.group(1)
    assert hover and hover.group(1).startswith(f"{packages[1]['name']} ")
    # The screenshot is kept for people (CI keeps test-artifacts/).
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    taken = _chromium(f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]


def test_report_command_on_a_directory(report: tuple[Path, dict], tmp_path: Path) -> None:
    _page, doc = report
    layer = tmp_path / "layer"
    shutil.unpack_archive(doc["artifacts"][0]["path"], layer)
    out = tmp_path / "dir.html"
    run = run_cli("report", str(layer), "-o", str(out), "--runtime", "python3.12", "--json")
    assert run.returncode == 0, run.stderr
    assert run.json()["zipped_size"] is None
    text = out.read_text("utf-8")
    assert "pg8000 1.31.2" in text and "No findings" in text


def test_report_on_something_unreadable_exits_two(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    run = run_cli("report", str(bad), "-o", str(tmp_path / "x.html"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert not (tmp_path / "x.html").exists()
