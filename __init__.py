"""GLNet land cover: a QGIS plugin and the ``glnet`` Python package.

The repository root is both the QGIS plugin folder (QGIS imports it and calls
:func:`classFactory`) and the installable package ``glnet`` (see
``pyproject.toml``). QGIS imports this module inside its own Python, where
numpy, torch or onnxruntime may be missing or of other versions, so nothing
heavy is imported here: the plugin class is imported inside
:func:`classFactory`, and the command line and model code only when used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "classFactory"]

# Keep in step with pyproject.toml [project] version and metadata.txt version
# (tests/test_cli.py checks that all three agree).
__version__ = "0.1.0"


def classFactory(iface: Any) -> Any:  # noqa: N802 - the name QGIS looks for
    """Create the plugin object; QGIS calls this when it loads the plugin.

    Parameters
    ----------
    iface:
        The ``QgisInterface`` of the QGIS desktop application. ``qgis_process``
        loads plugins without a desktop and may pass ``None``.

    Returns
    -------
    glnet_plugin.plugin.GLNetPlugin
        The plugin instance.
    """
    # Imported here, not at module level, so that importing the package (for
    # the command line, or by QGIS's plugin scan) stays cheap and side-effect free.
    from .glnet_plugin.plugin import GLNetPlugin

    return GLNetPlugin(iface)
