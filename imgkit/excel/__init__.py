"""Excel both ways: the styled results workbook (:func:`to_excel`) and the batch template
a colleague fills (:func:`template`).

Example
-------
>>> from imgkit.excel import to_excel
>>> to_excel.__name__
'to_excel'
"""

from imgkit.excel.batch_template import template
from imgkit.excel.workbook import to_excel

__all__ = ["template", "to_excel"]
