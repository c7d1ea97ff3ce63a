"""The HTML report's picture of a layer's sizes: a tree (package -> directory -> file)
laid out as a treemap. The sizes themselves are measured in sizing.py.

`size_tree` groups every file under the package that installed it (RECORD),
then by its directories below the import root; `squarify` places the nodes in
a rectangle with the squarified algorithm (Bruls, Huizing, van Wijk), so each
area is proportional to the unzipped bytes. Pure data: the HTML is elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdalayer.reports.sizing import short_path


@dataclass(kw_only=True)
class SizeNode:
    """One package, directory or file. `zipped` is None when there is no zip."""

    name: str
    path: str  # what a tooltip shows: "numpy/core/_multiarray_umath....so"
    kind: str  # "layer" | "package" | "dir" | "file"
    size: int = 0
    zipped: int | None = None
    version: str = ""
    children: dict[str, SizeNode] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Box:
    """A placed node: its rectangle and depth (1 = package)."""

    node: SizeNode
    x: float
    y: float
    w: float
    h: float
    depth: int


def size_tree(files: dict[str, int], owners: dict[str, tuple[str, str]],
              zipped: dict[str, int] | None) -> SizeNode:
    """Group `files` (layer path -> bytes) by owning package (path -> (name, version)),
    then by directory. `zipped` (layer path -> compressed bytes) adds zipped sizes."""
    root = SizeNode(name="layer", path="", kind="layer", zipped=0 if zipped is not None else None)
    for rel, size in files.items():
        name, version = owners.get(rel, ("(other files)", ""))
        package = root.children.get(name)
        if package is None:
            package = SizeNode(name=name, path=name, kind="package", version=version,
                               zipped=0 if zipped is not None else None)
            root.children[name] = package
        inner = short_path(rel) if name != "(other files)" else rel
        parts = inner.split("/")
        node = package
        z = None if zipped is None else zipped.get(rel, 0)
        for node_in_path in (root, package):
            node_in_path.size += size
            if z is not None and node_in_path.zipped is not None:
                node_in_path.zipped += z
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            child = node.children.get(part)
            if child is None:
                child = SizeNode(name=part, path="/".join(parts[:depth + 1]),
                                 kind="file" if last else "dir",
                                 zipped=0 if z is not None else None)
                node.children[part] = child
            child.size += size
            if z is not None and child.zipped is not None:
                child.zipped += z
            node = child
    return root


def squarify(root: SizeNode, width: float, height: float, *, header: float = 16,
             pad: float = 2, min_side: float = 3, max_depth: int = 6) -> list[Box]:
    """Place `root`'s descendants in width x height; parents first. Nodes smaller than
    `min_side` in either direction are left out (their parent's area still shows them)."""
    boxes: list[Box] = []
    _place(root, 0, 0, width, height, 0, boxes, header, pad, min_side, max_depth)
    return boxes


def _place(node: SizeNode, x: float, y: float, w: float, h: float, depth: int,
           boxes: list[Box], header: float, pad: float, min_side: float,
           max_depth: int) -> None:
    if depth > 0:
        boxes.append(Box(node=node, x=x, y=y, w=w, h=h, depth=depth))
    if depth >= max_depth or not node.children:
        return
    top = header if depth > 0 and h > header * 2 else (0 if depth == 0 else pad)
    inner = (x + pad, y + top, w - 2 * pad, h - top - pad) if depth > 0 else (x, y, w, h)
    if inner[2] < min_side or inner[3] < min_side:
        return
    children = sorted((c for c in node.children.values() if c.size > 0),
                      key=lambda c: (-c.size, c.name))
    total = sum(c.size for c in children)
    if not total:
        return
    scale = inner[2] * inner[3] / total
    for child, (cx, cy, cw, ch) in _squarify([c.size * scale for c in children], *inner,
                                             children):
        if cw >= min_side and ch >= min_side:
            _place(child, cx, cy, cw, ch, depth + 1, boxes, header, pad, min_side, max_depth)


def _worst(row: list[float], side: float) -> float:
    total = sum(row)
    if not total or not side:
        return float("inf")
    return max(max(side * side * r / (total * total), total * total / (side * side * r))
               for r in row)


def _squarify(areas: list[float], x: float, y: float, w: float, h: float,
              nodes: list[SizeNode]) -> list[tuple[SizeNode, tuple[float, float, float, float]]]:
    placed: list[tuple[SizeNode, tuple[float, float, float, float]]] = []
    index = 0
    while index < len(areas):
        side = min(w, h)
        row = [areas[index]]
        index += 1
        while index < len(areas) and _worst([*row, areas[index]], side) <= _worst(row, side):
            row.append(areas[index])
            index += 1
        total = sum(row)
        start = index - len(row)
        if w >= h:  # a column on the left
            column = total / h if h else 0
            cy = y
            for offset, area in enumerate(row):
                height = area / column if column else 0
                placed.append((nodes[start + offset], (x, cy, column, height)))
                cy += height
            x, w = x + column, w - column
        else:  # a row on top
            row_h = total / w if w else 0
            cx = x
            for offset, area in enumerate(row):
                width = area / row_h if row_h else 0
                placed.append((nodes[start + offset], (cx, y, width, row_h)))
                cx += width
            y, h = y + row_h, h - row_h
    return placed
