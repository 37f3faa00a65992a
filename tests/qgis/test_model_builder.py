"""glnet:segment inside a graphical model: outputs chain into native algorithms.

The model is built with the same classes the model designer uses, saved as a
.model3 file, and run twice: in-process through Processing, and headless as
a file through ``qgis_process.bin run MODEL.model3``, the way a saved model
from the designer runs in batch.
"""

from __future__ import annotations

import json
from pathlib import Path


def _segment_model(path: Path) -> Path:
    """image + bundle -> glnet:segment -> (polygons -> native:dissolve by class, mask -> unique values report)."""
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFile,
        QgsProcessingParameterRasterLayer,
    )
    from qgis.core import (
        QgsProcessingModelChildParameterSource as Source,
    )

    model = QgsProcessingModelAlgorithm("land_cover_by_class", "glnet tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("image", "Image"), QgsProcessingModelParameter("image"))
    model.addModelParameter(
        QgsProcessingParameterFile("bundle", "Model bundle", behavior=QgsProcessingParameterFile.Folder),
        QgsProcessingModelParameter("bundle"),
    )

    segment = QgsProcessingModelChildAlgorithm("glnet:segment")
    segment.setChildId("segment")
    segment.setDescription("Segment land cover")
    segment.addParameterSources("INPUT", [Source.fromModelParameter("image")])
    segment.addParameterSources("MODEL", [Source.fromModelParameter("bundle")])
    model.addChildAlgorithm(segment)

    dissolve = QgsProcessingModelChildAlgorithm("native:dissolve")
    dissolve.setChildId("dissolve")
    dissolve.setDescription("One feature per class")
    dissolve.addParameterSources("INPUT", [Source.fromChildOutput("segment", "OUTPUT_VECTOR")])
    dissolve.addParameterSources("FIELD", [Source.fromStaticValue(["class_name"])])
    out = QgsProcessingModelOutput("by_class", "Land cover by class")
    out.setChildId("dissolve")
    out.setChildOutputName("OUTPUT")
    dissolve.setModelOutputs({"by_class": out})
    model.addChildAlgorithm(dissolve)

    report = QgsProcessingModelChildAlgorithm("native:rasterlayeruniquevaluesreport")
    report.setChildId("report")
    report.setDescription("Pixels per class id")
    report.addParameterSources("INPUT", [Source.fromChildOutput("segment", "OUTPUT_MASK")])
    report.addParameterSources("BAND", [Source.fromStaticValue(1)])
    table = QgsProcessingModelOutput("class_table", "Pixels per class id")
    table.setChildId("report")
    table.setChildOutputName("OUTPUT_TABLE")
    report.setModelOutputs({"class_table": table})
    model.addChildAlgorithm(report)

    model.updateDestinationParameters()
    assert model.toFile(str(path))
    return path


def _check_outputs(by_class: str, table: str) -> None:
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(by_class, "by_class", "ogr")
    assert layer.isValid()
    names = [f["class_name"] for f in layer.getFeatures()]
    assert names and len(names) == len(set(names)), "dissolve should give one feature per class"
    assert layer.crs().authid() == "EPSG:32633"
    counts = QgsVectorLayer(table, "table", "ogr")
    assert counts.isValid() and counts.featureCount() >= 1


def test_model_runs_in_processing(qgis_app, tmp_path, ortho, tiny_bundle):
    import processing
    from qgis.core import QgsProcessingModelAlgorithm

    path = _segment_model(tmp_path / "land_cover.model3")
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(path))
    result = processing.run(model, {
        "image": str(ortho),
        "bundle": str(tiny_bundle),
        # A model output's parameter is named "<child id>:<output name>".
        "dissolve:by_class": str(tmp_path / "by_class.gpkg"),
        "report:class_table": str(tmp_path / "counts.csv"),
    })
    _check_outputs(result["dissolve:by_class"], result["report:class_table"])


def test_saved_model_runs_through_qgis_process(qgis_app, tmp_path, ortho, tiny_bundle, qgis_process):
    path = _segment_model(tmp_path / "land_cover.model3")
    by_class, table = tmp_path / "by_class.gpkg", tmp_path / "counts.csv"
    proc = qgis_process("run", path, "--json", "--", f"image={ortho}", f"bundle={tiny_bundle}",
                        f"dissolve:by_class={by_class}", f"report:class_table={table}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert Path(result["results"]["dissolve:by_class"]).exists()
    _check_outputs(str(by_class), str(table))
