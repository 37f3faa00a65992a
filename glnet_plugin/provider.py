"""The Processing provider ``glnet``: registers the algorithms of :mod:`glnet_plugin.algorithms`."""

from __future__ import annotations

from typing import List

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .algorithms.base import ICON_PATH
from .algorithms.train import TRAIN_PYTHON_SETTING, validate_training_python
from .i18n import tr

__all__ = ["PROVIDER_ID", "GlnetProvider"]

#: The stable provider id: algorithm ids are ``glnet:<name>``.
PROVIDER_ID = "glnet"


class GlnetProvider(QgsProcessingProvider):
    """The glnet algorithms in the Processing Toolbox, models, batch runs and qgis_process.

    Outputs are files glnet_core writes itself: GeoTIFF rasters, and the
    vector formats glnet_core writes (GeoPackage by default).
    """

    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return tr("GLNet land cover")

    def longName(self) -> str:  # noqa: N802
        return tr("GLNet land-cover segmentation (collaborative global-local networks)")

    def icon(self) -> QIcon:
        return QIcon(str(ICON_PATH))

    def load(self) -> bool:
        """Register the provider's settings (as QGIS's OTB and SAGA providers do), then the algorithms."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:
            # No Processing Python part: glnet:train reads only GLNET_TRAIN_PYTHON.
            pass
        else:
            # The group is the provider's name: Settings > Options > Processing > Providers > <name>.
            group = self.name()
            ProcessingConfig.settingIcons[group] = self.icon()
            ProcessingConfig.addSetting(Setting(
                group, TRAIN_PYTHON_SETTING,
                tr("Python environment for training"), "", valuetype=Setting.FOLDER, validator=validate_training_python,
                placeholder=tr("a virtual environment folder with torch and glnet, or its python")))
            ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Remove the settings :meth:`load` registered."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        if TRAIN_PYTHON_SETTING in ProcessingConfig.settings:
            ProcessingConfig.removeSetting(TRAIN_PYTHON_SETTING)

    def loadAlgorithms(self) -> None:  # noqa: N802
        for cls in ALGORITHMS:
            self.addAlgorithm(cls())

    def supportsNonFileBasedOutput(self) -> bool:  # noqa: N802
        # glnet_core writes files; no memory layers.
        return False

    def defaultRasterFileExtension(self) -> str:  # noqa: N802
        return "tif"

    def supportedOutputRasterLayerExtensions(self) -> List[str]:  # noqa: N802
        # glnet_core's mask writer writes GeoTIFF only.
        return ["tif"]

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802,N803
        return "gpkg"

    def supportedOutputVectorLayerExtensions(self) -> List[str]:  # noqa: N802
        # What glnet_core writes: the polygon formats of vectorize and the
        # table formats of zonal_stats. Imported here (numpy only), not at
        # module level, so listing the provider never needs glnet_core.
        try:
            from ..glnet_core.formats.vector_layers import DRIVERS
            from ..glnet_core.products.zonal_stats import OUTPUT_FORMATS
        except ImportError:
            return super().supportedOutputVectorLayerExtensions()
        extensions = [ext.lstrip(".") for exts in DRIVERS.values() for ext in exts]
        return extensions + [ext.lstrip(".") for ext in OUTPUT_FORMATS if ext.lstrip(".") not in extensions]
