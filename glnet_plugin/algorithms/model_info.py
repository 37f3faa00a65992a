"""``glnet:model_info``: check a model bundle and describe it, as ``glnet info`` does."""

from __future__ import annotations

from typing import Any, Dict

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
)

from ..i18n import tr
from .base import GlnetAlgorithm, help_html
from .segment import bundle_parameter

__all__ = ["ModelInfoAlgorithm"]


class ModelInfoAlgorithm(GlnetAlgorithm):
    """Describe a bundle (``glnet_core.engine.bundle.load_bundle`` + ``glnet_core.engine.bundle_report.format_summary``)."""

    ALG_ID = "model_info"
    GROUP_ID = "models"

    MODEL = "MODEL"
    SUMMARY = "SUMMARY"
    NAME = "NAME"
    CLASSES = "CLASSES"
    CLASS_COUNT = "CLASS_COUNT"
    MODES = "MODES"
    RESOLUTION = "RESOLUTION"

    def displayName(self) -> str:  # noqa: N802
        return tr("Model bundle information")

    def shortDescription(self) -> str:  # noqa: N802
        return tr("Checks a GLNet model bundle and describes its model, classes and graphs.")

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802
        self.addParameter(bundle_parameter(self.MODEL))
        self.addOutput(QgsProcessingOutputString(self.SUMMARY, tr("Description")))
        self.addOutput(QgsProcessingOutputString(self.NAME, tr("Model name")))
        self.addOutput(QgsProcessingOutputString(self.CLASSES, tr("Class names")))
        self.addOutput(QgsProcessingOutputNumber(self.CLASS_COUNT, tr("Number of classes")))
        self.addOutput(QgsProcessingOutputString(self.MODES, tr("Inference modes")))
        self.addOutput(QgsProcessingOutputNumber(self.RESOLUTION, tr("Resolution (m/px)")))

    def shortHelpString(self) -> str:  # noqa: N802
        return help_html(
            tr("Checks a GLNet model bundle, as the command 'glnet info' does, and writes to the log what it holds: "
               "the model and its configuration, the classes with their colours, the window geometry, the input "
               "bands and normalisation, the inference modes and precision, each ONNX graph with its size, where "
               "the model came from and how well its export was verified. A damaged bundle (a graph file changed, "
               "truncated or missing; an invalid manifest) is an error."),
            [(tr("Model bundle"), tr("The manifest.json inside a NAME.glnet folder, or a zip of such a folder."))],
            [(tr("Description, model name, classes, modes, resolution"), tr("Texts and numbers for use in models: "
                                                                            "the class names and the inference modes "
                                                                            "comma-separated (classes in id order), "
                                                                            "the model's ground resolution in m/px "
                                                                            "(empty when not set)."))],
        )

    def run_glnet(self, parameters: Dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict[str, Any]:
        from ...glnet_core.engine.bundle import load_bundle
        from ...glnet_core.engine.bundle_report import format_summary

        bundle = load_bundle(self.parameterAsFile(parameters, self.MODEL, context))
        summary = format_summary(bundle)
        for line in summary.splitlines():
            feedback.pushInfo(line)
        return {
            self.SUMMARY: summary,
            self.NAME: bundle.name,
            self.CLASSES: ", ".join(bundle.classes.names),
            self.CLASS_COUNT: len(bundle.classes),
            self.MODES: ", ".join(bundle.modes),
            self.RESOLUTION: bundle.resolution_m,
        }
