"""Stage 1, targets: which Lambda runtimes and architectures a layer is for.

Takes runtime names and architectures (`python3.12`, `arm64`); gives `Target`
values: the wheel tags that fit, the environment markers to evaluate, uv's
platform triple and the site-packages path inside the layer. The facts come
from `runtimes.toml` (loaded and validated by `runtimes.py`), never from code.
"""
