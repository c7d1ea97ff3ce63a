"""Popular Lambda packages and what a correct build does with each.

CASES is for python3.12/x86_64; ARM64_CASES, the native part of it, is for arm64 on
ARM64_RUNTIMES, proven under qemu-user. Shared by
tests/integration/pipeline/test_realworld.py and bench/realworld_bench.py.
`imports`: modules that must import from the layer alone; `refuse`: (exit code, a
phrase the refusal's advice must contain) for packages that cannot work on Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    spec: str
    kind: str
    imports: tuple[str, ...] = ()
    refuse: tuple[int, str] | None = None

    @property
    def name(self) -> str:
        return self.spec.split("=")[0].split("<")[0].split(">")[0].split("[")[0]


CASES: tuple[Case, ...] = (
    # Pure Python
    Case("requests", "pure", ("requests",)),
    Case("httpx", "pure", ("httpx",)),
    Case("pg8000", "pure", ("pg8000",)),
    Case("pymysql", "pure", ("pymysql",)),
    Case("redis", "pure", ("redis",)),
    Case("elasticsearch", "pure", ("elasticsearch",)),
    Case("pyjwt", "pure", ("jwt",)),
    Case("python-jose", "pure", ("jose",)),
    Case("beautifulsoup4", "pure", ("bs4",)),
    Case("aws-lambda-powertools", "pure", ("aws_lambda_powertools",)),
    Case("stripe", "pure", ("stripe",)),
    Case("tenacity", "pure", ("tenacity",)),
    Case("python-dateutil", "pure", ("dateutil",)),
    Case("jinja2", "native dep (markupsafe)", ("jinja2",)),
    Case("puremagic", "pure", ("puremagic",)),
    Case("ldap3", "pure", ("ldap3",)),
    Case("pymemcache", "pure", ("pymemcache",)),
    # Native (manylinux wheels)
    Case("aiohttp", "native", ("aiohttp",)),
    Case("psycopg2-binary", "native", ("psycopg2", "psycopg2.extras")),
    Case("psycopg[binary]", "native", ("psycopg",)),
    Case("pymongo", "native", ("pymongo", "bson")),
    Case("sqlalchemy", "native", ("sqlalchemy",)),
    Case("numpy", "native", ("numpy",)),
    Case("orjson", "native", ("orjson",)),
    Case("pydantic", "native", ("pydantic",)),
    Case("lxml", "native", ("lxml.etree",)),
    Case("pillow", "native", ("PIL.Image",)),
    Case("pyyaml", "native, optional _yaml", ("yaml",)),
    Case("msgpack", "native", ("msgpack",)),
    Case("regex", "native", ("regex",)),
    Case("jsonschema", "native dep (rpds-py)", ("jsonschema",)),
    Case("shapely", "native", ("shapely",)),
    # What the refusal of opencv-python advises: the same cv2 without the GUI libraries.
    Case("opencv-python-headless", "native, advised for opencv-python", ("cv2",)),
    # Its vendored MySQL client plugins (WebAuthn: libfido2 -> libudev) load on demand only.
    Case("mysql-connector-python", "native, on-demand plugins", ("mysql.connector",)),
    # abi3
    Case("cryptography", "abi3", ("cryptography.fernet",)),
    Case("bcrypt", "abi3", ("bcrypt",)),
    Case("pynacl", "abi3", ("nacl.signing",)),
    # Pure Python published only as an sdist (built, must be py3-none-any)
    Case("docopt", "sdist-only pure", ("docopt",)),
    Case("jsonpath-rw", "sdist-only pure", ("jsonpath_rw",)),
    Case("pyhive", "newest release sdist-only pure", ("pyhive",)),
    Case("feedparser", "pure + sdist-only dep (sgmllib3k)", ("feedparser",)),
    Case("strict-rfc3339", "sdist-only pure", ("strict_rfc3339",)),
    # Cannot work on Lambda: refused, with the right advice
    Case("pylibmc", "native sdist-only on 3.12", refuse=(3, "pymemcache")),
    Case("mysqlclient", "native sdist-only", refuse=(3, "PyMySQL")),
    Case("psycopg2", "native sdist-only", refuse=(3, "psycopg2-binary")),
    Case("gdal", "native sdist-only", refuse=(3, "rasterio")),
    Case("python-ldap", "native sdist-only", refuse=(3, "ldap3")),
    Case("pyminizip", "native sdist-only", refuse=(3, "pyzipper")),
    Case("opencv-python", "manylinux wheel needing libGL", refuse=(4, "opencv-python-headless")),
    Case("pyodbc", "manylinux wheel needing libodbc", refuse=(4, "pymssql")),
    Case("weasyprint", "pure, loads pango at import", refuse=(4, "container-image")),
)

# Native wheels with aarch64 builds: Rust (orjson, pydantic-core, cryptography), C with
# bundled libraries (numpy's OpenBLAS, psycopg2-binary's libpq, lxml's libxml2), and a
# manylinux wheel needing a library Lambda lacks on arm64 too (pyodbc: libodbc).
ARM64_RUNTIMES: tuple[str, ...] = ("python3.11", "python3.13")
ARM64_CASES: tuple[Case, ...] = (
    Case("orjson", "native", ("orjson",)),
    Case("pydantic", "native dep (pydantic-core)", ("pydantic",)),
    Case("cryptography", "abi3", ("cryptography.fernet",)),
    Case("numpy", "native", ("numpy",)),
    Case("psycopg2-binary", "native", ("psycopg2", "psycopg2.extras")),
    Case("lxml", "native", ("lxml.etree",)),
    Case("msgpack", "native", ("msgpack",)),
    Case("regex", "native", ("regex",)),
    Case("pyodbc", "manylinux wheel needing libodbc", refuse=(4, "pymssql")),
)
