"""Class size priors for assisted labeling, read in one place.

Today the priors come from the built-in taxonomy (``server/taxonomy.py``);
when taxonomies move into the database only :func:`size_prior` changes.
"""

from __future__ import annotations

from server.taxonomy import DEFAULT_TAXONOMY, Size


def size_prior(label: str | None) -> Size | None:
    """The typical (length, width, height) in metres of class ``label``, or None when unknown.

    ``Other`` has no meaningful typical size and gives None.
    """
    if label is None or label == "Other":
        return None
    cls = DEFAULT_TAXONOMY.classes.get(label)
    return None if cls is None else cls.default_size


def class_priors() -> dict[str, Size]:
    """Every class with a typical size: name -> (length, width, height) in metres."""
    return {
        name: prior for name in DEFAULT_TAXONOMY.classes if (prior := size_prior(name)) is not None
    }
