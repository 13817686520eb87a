"""Class size priors for assisted labeling, read in one place.

The priors come from the default taxonomy document (``server/taxonomy_default.json``),
not yet from the task's published version (docs/taxonomy.md): a lead's size-prior
change reaches validation at once but reaches the fit and pre-labels only through
this file. Only this module changes when they follow the task's version.
"""

from __future__ import annotations

from functools import cache

from server.taxonomy import Size, Taxonomy, default_taxonomy


@cache
def _default() -> Taxonomy:
    return default_taxonomy()


def size_prior(label: str | None) -> Size | None:
    """The typical (length, width, height) in metres of class ``label``, or None when unknown.

    ``Other`` has no meaningful typical size and gives None.
    """
    if label is None or label == "Other":
        return None
    cls = _default().classes.get(label)
    return None if cls is None else cls.default_size


def class_priors() -> dict[str, Size]:
    """Every class with a typical size: name -> (length, width, height) in metres."""
    return {name: prior for name in _default().classes if (prior := size_prior(name)) is not None}
