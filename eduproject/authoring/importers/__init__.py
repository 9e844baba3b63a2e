"""Importers: nbgrader source notebooks and otter-assign master notebooks -> our format.

Each importer implements :class:`~eduproject.authoring.importers.base.Importer`
(``convert(source) -> Conversion``); :func:`~eduproject.authoring.importers.base.run_import`
does the reading, checking and writing around it. With nbgrader's example problem set on disk:

    >>> report = import_nbgrader(Path("source/ps1/problem1.ipynb"), Path("exercises/ps1"))  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    wrote exercises/ps1/ps1.ipynb (lesson 'ps1', 5 exercises: squares, sum_of_squares, ...)
    ...
"""

from eduproject.authoring.importers.base import ImportReport
from eduproject.authoring.importers.nbgrader import import_nbgrader
from eduproject.authoring.importers.otter import import_otter

__all__ = ["ImportReport", "import_nbgrader", "import_otter"]
