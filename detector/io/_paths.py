"""Paths the user names: globs expanded safely, and whether two paths overlap.

A glob is expanded with ``pathlib``, which does not descend into symbolic links to
folders while matching ``**``: a link back up the tree (``data/up -> ..``) can neither
loop nor make a file be read twice. Every match is also kept once by its resolved path.
"""

import fnmatch
from pathlib import Path

__all__ = ["expand_glob", "has_magic", "matches_glob", "overlaps"]

_MAGIC = "*?["


def has_magic(text: str) -> bool:
    """Whether ``text`` is a glob pattern rather than a plain path."""
    return any(ch in text for ch in _MAGIC)


def _split_glob(pattern: str) -> tuple[Path, str]:
    """A glob's folder before its first wildcard, and the pattern below it."""
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if has_magic(part))
    root = Path(*parts[:first]) if first else Path(".")
    return root, "/".join(parts[first:])


def matches_glob(path: Path, pattern: str) -> bool:
    """Whether ``path`` would be one of ``pattern``'s matches once it exists: as named
    and as resolved, against the glob's folder as named and as resolved, and with a
    ``**/`` that matches no folder at all, as ``expand_glob``'s does. A wildcard here may
    also stand for a '/', so the answer errs towards yes.

    >>> matches_glob(Path("/d/part2/new.parquet"), "/d/part2/*.parquet")
    True
    >>> matches_glob(Path("/d/new.parquet"), "/d/**/*.parquet")
    True
    """
    root, rest = _split_glob(pattern)
    shapes = {rest, rest.replace("**/", "")}
    for at in {path.absolute(), path.resolve()}:
        for folder in {root.absolute(), root.resolve()}:
            if folder in at.parents:
                rel = at.relative_to(folder).as_posix()
                if any(fnmatch.fnmatch(rel, shape) for shape in shapes):
                    return True
    return False


def expand_glob(pattern: str) -> list[Path]:
    """The paths matching ``pattern``, sorted, each real file or folder once.

    >>> expand_glob("no-such-folder/*.parquet")
    []
    """
    root, rest = _split_glob(pattern)
    if not root.is_dir():
        return []
    seen: set[Path] = set()
    found = []
    for match in sorted(root.glob(rest)):
        real = match.resolve()
        if real not in seen:
            seen.add(real)
            found.append(match)
    return found


def overlaps(a: Path, b: Path) -> bool:
    """Whether resolved paths ``a`` and ``b`` are the same, or one holds the other."""
    return a == b or a in b.parents or b in a.parents
