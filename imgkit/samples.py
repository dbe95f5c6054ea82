"""The sample batch and images that ship with imgkit, for the demo, the docs and a first try.

In a checkout they are the repository's ``sample_data/`` folder; in an installed wheel the
same files travel as the package ``imgkit.sample_data``.  Either way
:func:`sample_data` is a real folder on disk, so its paths can be handed to any function.

Example
-------
>>> import imgkit
>>> folder = imgkit.sample_data()
>>> sorted(p.name for p in folder.glob("batch.*")), (folder / "shops.toml").is_file()
(['batch.csv', 'batch.xlsx'], True)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_data() -> Path:
    """The folder of the sample batch (``batch.csv``, ``batch.xlsx``), its ``images/`` and
    a ``shops.toml`` for the sandbox.

    Returns
    -------
    pathlib.Path
        ``sample_data/`` in a checkout of the repository, the folder of the installed
        ``imgkit.sample_data`` package otherwise.

    Examples
    --------
    >>> (sample_data() / "images" / "mug.jpg").is_file()
    True
    """
    checkout = Path(__file__).resolve().parents[1] / "sample_data"
    if (checkout / "batch.csv").is_file():
        return checkout
    # An installed wheel is unpacked on disk: its data files are real paths.  Asked for
    # through imgkit's own files, not as the namespace package imgkit.sample_data: importing
    # that would bind the name imgkit.sample_data to the folder's module, in place of this
    # function, and the next imgkit.sample_data() would fail.
    return Path(str(resources.files("imgkit").joinpath("sample_data", "batch.csv"))).parent


def sample_batch() -> Path:
    """The sample batch as CSV: fifteen images for all five platforms.

    >>> sample_batch().name
    'batch.csv'
    """
    return sample_data() / "batch.csv"


__all__ = ["sample_batch", "sample_data"]
