"""The Unity Catalog model's public API (UCMODEL.md): one import point for the routes, the SQL
engine and the tests. The model itself lives in the uc/ package, one module per securable family;
see uc/__init__.py for the layout and conventions."""

from .uc import *  # noqa: F401,F403  (re-export: the names are uc.__all__)
from .uc import __all__  # noqa: F401
