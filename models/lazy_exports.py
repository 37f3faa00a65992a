"""Package names imported on first use (PEP 562), so a package's light parts load without its heavy ones.

``glnet.models.training`` keeps torch out of ``TrainOptions``;
``glnet.models.data`` keeps rasterio and GDAL out of the training steps.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Dict, List, Mapping, Tuple

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str], namespace: Dict[str, Any]) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package whose public names load on first use.

    Parameters
    ----------
    package:
        The package's ``__name__``.
    names:
        Public name -> submodule (relative to ``package``) that defines it.
    namespace:
        The package's ``globals()``: a loaded name is stored there, so it is
        looked up only once.

    Returns
    -------
    (__getattr__, __dir__)
    """

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def dir_() -> List[str]:
        return sorted(set(namespace) | set(names))

    return getattr_, dir_
