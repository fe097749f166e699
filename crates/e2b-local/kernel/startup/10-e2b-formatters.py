"""Rich results of the code interpreter.

Registers two IPython display formats on top of the usual MIME types:

* ``e2b/data``  — a pandas DataFrame as ``{column: [values...]}``;
* ``e2b/chart`` — a matplotlib Figure described by ``e2b_charts``.

pandas and matplotlib are only imported when such an object is displayed,
so a fresh kernel starts without paying for them.
"""

import json

from IPython import get_ipython
from IPython.core.formatters import BaseFormatter
from traitlets import ObjectName, Unicode


def _frame_as_columns(frame):
    # Each column through pandas' own JSON encoder, so timestamps, NaN and
    # numpy scalars come out as plain JSON values.
    return {
        str(name): json.loads(
            column.to_json(orient="values", date_format="iso", default_handler=str)
        )
        for name, column in frame.items()
    }


class DataFormatter(BaseFormatter):
    format_type = Unicode("e2b/data")
    print_method = ObjectName("_repr_e2b_data_")
    _return_type = (dict, str)


class ChartFormatter(BaseFormatter):
    format_type = Unicode("e2b/chart")
    print_method = ObjectName("_repr_e2b_chart_")
    _return_type = (dict, str)

    def __call__(self, obj):
        figure_type = _figure_type()
        if figure_type is not None and isinstance(obj, figure_type):
            return _describe_figure(obj)
        return super().__call__(obj)


def _figure_type():
    import sys

    module = sys.modules.get("matplotlib.figure")
    return getattr(module, "Figure", None) if module is not None else None


def _plain(value):
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return str(value)


def _describe_figure(figure):
    from e2b_charts import chart_figure_to_dict

    try:
        # Through JSON once: enum members become their plain string values,
        # numpy scalars (tick positions, values) plain numbers.
        return json.loads(json.dumps(chart_figure_to_dict(figure), default=_plain))
    except Exception:  # an unrecognised plot still yields its PNG
        return None


def _register():
    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    data = DataFormatter(parent=shell.display_formatter)
    data.for_type_by_name("pandas.core.frame", "DataFrame", _frame_as_columns)
    formatters["e2b/data"] = data
    formatters["e2b/chart"] = ChartFormatter(parent=shell.display_formatter)


_register()
