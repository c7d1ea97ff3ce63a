"""Project configuration: discovery, validation and precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdalayer.common.errors import ConfigError, UsageError
from lambdalayer.project.config import ProofSandbox, find_config, load_config
from lambdalayer.project.precedence import BuildFlags, BuildOptions, plan_builds
from lambdalayer.project.recipes import get_recipe, load_recipes
from tests.conftest import require

PYPROJECT = """
[project]
name = "app"

[tool.lambdalayer]
region = "ap-northeast-2"
runtimes = ["python3.11"]

[tool.lambdalayer.layers.makenaide-pg8000]
recipe = "pg8000"
functions = ["makenaide-db-initializer", "makenaide-scanner"]

[tool.lambdalayer.layers.analytics]
packages = ["pandas", "pyarrow"]
runtimes = ["python3.12"]
architectures = ["arm64"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LAMBDALAYER_CONFIG", "LAMBDALAYER_RUNTIMES", "LAMBDALAYER_ARCHITECTURES",
                 "LAMBDALAYER_OUT", "LAMBDALAYER_REGION", "LAMBDALAYER_RECIPES",
                 "LAMBDALAYER_PROOF_SANDBOX"):
        monkeypatch.delenv(name, raising=False)


def project(tmp_path: Path, text: str = PYPROJECT, name: str = "pyproject.toml") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    return sub


def test_found_by_walking_up_from_a_subdirectory(tmp_path: Path) -> None:
    sub = project(tmp_path)
    assert find_config(sub) == tmp_path / "pyproject.toml"
    config = load_config(sub)
    assert list(config.layers) == ["makenaide-pg8000", "analytics"]
    assert config.regions == ("ap-northeast-2",)
    assert config.out == tmp_path / "dist"


def test_pyproject_without_our_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "lambdalayer.toml").write_text('[layers.x]\npackages = ["six"]\n')
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    assert find_config(inner) == tmp_path / "lambdalayer.toml"


def test_precedence_flags_over_environment_over_layer_over_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = project(tmp_path)

    def runtimes(flags: BuildFlags) -> dict[str, tuple[str, ...]]:
        return {p.request.name: p.request.runtimes for p in plan_builds(flags, load_config(sub))}

    assert runtimes(BuildFlags()) == {"makenaide-pg8000": ("python3.11",),
                                      "analytics": ("python3.12",)}
    monkeypatch.setenv("LAMBDALAYER_RUNTIMES", "python3.13")
    assert runtimes(BuildFlags()) == {"makenaide-pg8000": ("python3.13",),
                                      "analytics": ("python3.13",)}
    assert runtimes(BuildFlags(runtimes=("python3.10",))) == {
        "makenaide-pg8000": ("python3.10",), "analytics": ("python3.10",)}
    monkeypatch.setenv("LAMBDALAYER_OUT", str(tmp_path / "elsewhere"))
    [request] = [p.request for p in plan_builds(BuildFlags(name="analytics"), load_config(sub))]
    assert request.out_dir == tmp_path / "elsewhere"
    assert request.architectures == ("arm64",)


def test_proof_sandbox_precedence_config_under_environment_under_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auto` by default; the config's key, then LAMBDALAYER_PROOF_SANDBOX, then
    --proof-sandbox win, each over the one before (docs/configuration.md)."""
    def policy(sub: Path, flag: ProofSandbox | None = None) -> list[str]:
        flags = BuildFlags(proof_sandbox=flag)
        return [p.request.proof_sandbox for p in plan_builds(flags, load_config(sub))]

    assert policy(project(tmp_path / "plain")) == ["auto", "auto"]
    strict = PYPROJECT.replace('region = "ap', 'proof_sandbox = "required"\nregion = "ap', 1)
    sub = project(tmp_path / "strict", strict)
    assert policy(sub) == ["required", "required"]
    monkeypatch.setenv("LAMBDALAYER_PROOF_SANDBOX", "auto")
    assert policy(sub) == ["auto", "auto"]
    assert policy(sub, "required") == ["required", "required"]
    monkeypatch.setenv("LAMBDALAYER_PROOF_SANDBOX", "required")
    assert policy(tmp_path / "plain" / "src" / "deep") == ["required", "required"]
    assert policy(sub, "auto") == ["auto", "auto"]
    monkeypatch.setenv("LAMBDALAYER_PROOF_SANDBOX", " ")  # set but empty: not given
    assert policy(tmp_path / "plain" / "src" / "deep") == ["auto", "auto"]


def test_an_invalid_proof_sandbox_names_the_valid_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = project(tmp_path, '[tool.lambdalayer]\nproof_sandbox = "strict"\n')
    with pytest.raises(ConfigError, match=r"proof_sandbox: 'strict' .*'auto' or 'required'"):
        load_config(sub)
    with pytest.raises(ConfigError, match=r"proof_sandbox: True .*'auto' or 'required'"):
        load_config(project(tmp_path / "b", '[tool.lambdalayer]\nproof_sandbox = true\n'))
    monkeypatch.setenv("LAMBDALAYER_PROOF_SANDBOX", "maybe")
    with pytest.raises(ConfigError,
                       match=r"LAMBDALAYER_PROOF_SANDBOX: 'maybe' .*'auto' or 'required'"):
        load_config(project(tmp_path / "c", "[tool.lambdalayer]\n"))


def test_unknown_key_names_the_nearest_valid_one(tmp_path: Path) -> None:
    sub = project(tmp_path, PYPROJECT.replace('region = "ap', 'regoin = "ap'))
    with pytest.raises(ConfigError, match=r"'regoin'.*did you mean 'region'"):
        load_config(sub)
    sub2 = project(tmp_path / "b", '[tool.lambdalayer.layers.x]\npackages = ["six"]\n'
                   'funtions = ["f"]\n')
    with pytest.raises(ConfigError, match=r"layers\.x.*'funtions'.*'functions'"):
        load_config(sub2)


def test_build_options_from_the_config_reach_the_request(tmp_path: Path) -> None:
    sub = project(tmp_path, '[tool.lambdalayer.layers.api]\npackages = ["requests"]\n'
                  'exclude = ["boto3"]\nslim = true\ncompression_level = 9\n')
    [planned] = plan_builds(BuildFlags(), load_config(sub))
    assert planned.request.excludes == ("boto3",)
    assert planned.request.slim is True
    assert planned.request.compression_level == 9
    bad = project(tmp_path / "bad", '[tool.lambdalayer.layers.api]\npackages = ["six"]\n'
                  'compression_level = 11\n')
    with pytest.raises(ConfigError, match="compression_level"):
        load_config(bad)


def test_fix_pairs_from_the_config_or_the_flag_reaches_the_request(tmp_path: Path) -> None:
    sub = project(tmp_path, '[tool.lambdalayer.layers.api]\npackages = ["six"]\n'
                  'fix_pairs = true\n')
    [planned] = plan_builds(BuildFlags(), load_config(sub))
    assert planned.request.fix_pairs is True
    [plain] = plan_builds(BuildFlags(name="six", packages=("six",)), load_config(tmp_path / "x"))
    assert plain.request.fix_pairs is False
    [flagged] = plan_builds(BuildFlags(name="six", packages=("six",), options=BuildOptions(
        fix_pairs=True)), load_config(tmp_path / "x"))
    assert flagged.request.fix_pairs is True
    bad = project(tmp_path / "bad", '[tool.lambdalayer.layers.api]\npackages = ["six"]\n'
                  'fix_pairs = "yes"\n')
    with pytest.raises(ConfigError, match="fix_pairs: expected true or false"):
        load_config(bad)


def test_compression_level_zero_from_the_command_line_is_kept(tmp_path: Path) -> None:
    flags = BuildFlags(name="six", packages=("six",), options=BuildOptions(
        compression_level=0, slim=False, excludes=()))
    [planned] = plan_builds(flags, load_config(tmp_path))
    assert planned.request.compression_level == 0
    assert planned.request.slim is False


def test_a_layer_needs_at_most_one_requirement_source(tmp_path: Path) -> None:
    sub = project(tmp_path, '[tool.lambdalayer.layers.x]\nrecipe = "pg8000"\n'
                  'packages = ["six"]\n')
    with pytest.raises(ConfigError, match="one of recipe, requirements or packages"):
        load_config(sub)


def test_a_layer_needs_something_to_hold(tmp_path: Path) -> None:
    sub = project(tmp_path, '[tool.lambdalayer.layers.x]\nruntimes = ["python3.12"]\n')
    with pytest.raises(ConfigError, match="project, sources, include"):
        load_config(sub)


def test_unknown_runtime_in_config_is_named(tmp_path: Path) -> None:
    sub = project(tmp_path, '[tool.lambdalayer]\nruntimes = ["python3.99"]\n')
    with pytest.raises(ConfigError, match=r"python3\.99"):
        load_config(sub)


def test_no_config_and_no_name_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Name a recipe"):
        plan_builds(BuildFlags(), load_config(tmp_path))


def test_user_recipe_shadows_a_builtin_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "pg.toml").write_text('name = "pg8000"\nrequirements = ["pg8000==1.31.2"]\n')
    recipes = load_recipes((tmp_path,))
    assert recipes["pg8000"].shadows is not None and not recipes["pg8000"].builtin
    assert get_recipe("pg8000", (tmp_path,)).requirements == ("pg8000==1.31.2",)
    assert get_recipe("pg8000").builtin


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nrequirements = ["six"]\nrequirments = []\n', r"unknown field 'requirments'"),
        ('name = "x"\nrequirements = ["six>>1"]\n', r"requirements.*not a valid requirement"),
        ('name = "x"\n', r"field 'requirements' is required"),
        ('name = "x"\nrequirements = "six"\n', r"field 'requirements' must be a list"),
        ('name = "x"\nrequirements = ["six"]\nruntimes = ["python2.7"]\n', r"python2\.7"),
        ("name = \n", r"not valid TOML"),
    ],
)
def test_invalid_recipe_names_the_file_and_field(tmp_path: Path, text: str,
                                                 message: str) -> None:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_recipes((tmp_path,))
    assert "bad.toml" in str(caught.value)


def test_discovery_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "lambdalayer.toml").write_text('[layers.planted]\npackages = ["evil"]\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub").mkdir()
    assert find_config(repo / "sub") is None
    (repo / "lambdalayer.toml").write_text('[layers.ours]\npackages = ["six"]\n')
    assert find_config(repo / "sub") == repo / "lambdalayer.toml"


def test_discovery_stops_at_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lambdalayer.toml").write_text('[layers.planted]\npackages = ["evil"]\n')
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert find_config(home / "work") is None


def test_a_config_owned_by_someone_else_is_ignored(tmp_path: Path) -> None:
    """A lambdalayer.toml planted in a shared /tmp does not drive attach or permissions."""
    planted = tmp_path / "lambdalayer.toml"
    planted.write_text('[layers.planted]\npackages = ["evil"]\nfunctions = ["prod-fn"]\n')
    try:
        os.chown(planted, 54321, 54321)
    except PermissionError:
        require(False, "needs root to give a file another owner")
    (tmp_path / "project").mkdir()
    assert find_config(tmp_path / "project") is None


def _shared_dir(tmp_path: Path) -> Path:
    """A sticky, world-writable directory like /tmp."""
    shared = tmp_path / "shared"
    (shared / "work").mkdir(parents=True)
    shared.chmod(0o1777)
    return shared


def _real_config(tmp_path: Path) -> Path:
    real = tmp_path / "ours" / "pyproject.toml"
    real.parent.mkdir()
    real.write_text('[tool.lambdalayer.layers.app]\nsources = ["common"]\n')
    return real


def test_a_link_planted_in_a_shared_directory_is_not_adopted(tmp_path: Path) -> None:
    """Another user links pyproject.toml to a real config: the link's owner decides."""
    shared = _shared_dir(tmp_path)
    link = shared / "pyproject.toml"
    link.symlink_to(_real_config(tmp_path))
    try:
        os.lchown(link, 65534, 65534)
    except PermissionError:
        require(False, "needs root to give a link another owner")
    assert find_config(shared / "work") is None
    os.lchown(link, os.getuid(), os.getgid())  # even our own link: refused in /tmp
    assert find_config(shared / "work") is None


def test_in_a_shared_directory_only_our_own_regular_file_counts(tmp_path: Path) -> None:
    shared = _shared_dir(tmp_path)
    config = shared / "lambdalayer.toml"
    config.write_text('[layers.ours]\npackages = ["six"]\n')
    assert find_config(shared / "work") == config
    try:
        os.chown(config, 65534, 65534)
    except PermissionError:
        require(False, "needs root to give a file another owner")
    assert find_config(shared / "work") is None


def test_a_linked_config_resolves_paths_from_the_real_file(tmp_path: Path) -> None:
    real = _real_config(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").symlink_to(real)
    config = load_config(project)
    assert config.path == project / "pyproject.toml"
    assert config.layers["app"].base == real.parent


def test_interpreters_table_names_one_cpython_per_target(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lambdalayer.interpreters]\n'
        '"python3.12-arm64" = "roots/noble/usr/bin/python3.12"\n'  # relative to the file
        '"python3.14/aarch64" = "/opt/py/bin/python3.14"\n'  # either separator, any alias
        '"PYTHON3.13-amd64" = "~/py313"\n')
    config = load_config(tmp_path)
    assert config.interpreters == {
        "python3.12-arm64": tmp_path / "roots/noble/usr/bin/python3.12",
        "python3.14-arm64": Path("/opt/py/bin/python3.14"),
        "python3.13-x86_64": Path("~/py313").expanduser(),
    }


@pytest.mark.parametrize(("key", "said"), [
    ("python3.8-arm64", "Unknown runtime 'python3.8'"),
    ("python3.12", "expected RUNTIME-ARCH"),
    ("python3.12-sparc", "Unknown architecture 'sparc'"),
])
def test_interpreters_table_refuses_a_key_that_is_not_a_target(
        tmp_path: Path, key: str, said: str) -> None:
    (tmp_path / "lambdalayer.toml").write_text(f'[interpreters]\n"{key}" = "/usr/bin/python3"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert f"interpreters: key {key!r}" in str(caught.value) and said in str(caught.value)
