"""Pillow images become results, as in E2B's code interpreter.

A sandbox has no image viewer: ``Image.show()`` displays the image in the
cell's output instead, and ``Image.save(path)`` displays it as well as
writing the file. Pillow is patched when user code first imports
``PIL.Image``, so kernels that never touch images do not pay for importing it.
"""

import importlib.abc
import importlib.util
import os
import sys

_TARGET = "PIL.Image"


def _patch(module):
    from IPython.display import display

    image_class = module.Image
    original_save = image_class.save

    def show(self, title=None):
        display(self)

    def save(self, fp, format=None, **params):
        if isinstance(fp, (str, os.PathLike)):
            display(self)
        return original_save(self, fp, format, **params)

    show.__doc__ = image_class.show.__doc__
    save.__doc__ = original_save.__doc__
    image_class.show = show
    image_class.save = save


class _PatchOnLoad(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            _patch(module)
        except Exception:  # an unexpected Pillow: leave it as it is
            pass


class _PillowFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _PatchOnLoad(spec.loader)
        return spec


if _TARGET in sys.modules:
    _patch(sys.modules[_TARGET])
else:
    sys.meta_path.insert(0, _PillowFinder())
