"""``glnet info``: check a model bundle and describe it.

Needs neither torch nor (unless ``--check-io``) onnxruntime: the checks are
those of :func:`glnet_core.engine.bundle.load_bundle` (manifest schema and
consistency, graph checksums); the text is
:func:`glnet_core.engine.bundle_report.format_summary`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "check a model bundle (.glnet folder or zip) and describe it"

DESCRIPTION = """\
Check a glnet model bundle (a NAME.glnet folder, or a .zip of one) and print
what it holds: the model and its configuration, the classes, the window
geometry, the input bands and normalisation, the inference modes and
precision, each ONNX graph with its size and checksum, where the model came
from and how well the export was verified. A damaged bundle (a graph file
changed, truncated or missing; an invalid manifest) is an error, and so is
one that lies: a manifest whose classes, bands or sizes disagree with the
tensors it declares, a window needing too many patches, a graph keeping
weights in an external file or linked from outside the bundle, a zip member
that inflates beyond its cap. --check-io applies the same shape rules to the
graphs themselves.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet info``.

    Parameters
    ----------
    parser:
        The sub-command's parser.
    """
    parser.add_argument("bundle", metavar="BUNDLE", help="model bundle: a NAME.glnet folder or a .zip of one")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print manifest.json (after the same checks) instead of the summary",
    )
    parser.add_argument(
        "--check-io",
        action="store_true",
        help="also open every graph with onnxruntime and check it against the manifest and the other "
        "graphs: classes, bands, sizes, feature widths, inputs and outputs (slower; needs onnxruntime)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``glnet info``.

    Parameters
    ----------
    args:
        ``bundle`` (path), ``json`` (bool), ``check_io`` (bool).

    Returns
    -------
    int
        0.

    Raises
    ------
    BundleError
        If the bundle is missing, damaged or inconsistent.
    """
    from ..engine.bundle import load_bundle
    from ..engine.bundle_report import check_graph_io, format_summary

    bundle = load_bundle(args.bundle)
    check_io = bool(getattr(args, "check_io", False))
    if check_io:
        check_graph_io(bundle)
    if getattr(args, "json", False):
        print(json.dumps(bundle.manifest, indent=2, ensure_ascii=False))
    else:
        print(_with_lineage(format_summary(bundle, io_checked=check_io), bundle.provenance.get("lineage")))
    return 0


def _with_lineage(summary: str, lineage: Any) -> str:
    """``summary`` with its provenance line ``lineage`` as one file a line, oldest first.

    Parameters
    ----------
    summary:
        The text of :func:`~glnet.glnet_core.engine.bundle_report.format_summary`.
    lineage:
        The manifest's ``provenance["lineage"]`` (:mod:`glnet.models.lineage`), or None.

    Returns
    -------
    str
        ``summary`` unchanged when there is no lineage, else with the line
        ``  lineage       [{kind backbone, ...}, ...]`` replaced by
        ``  lineage       backbone resnet50-11ad3fa6.pth (sha256 ...)`` and a
        line per further entry under it.
    """
    from ...models.lineage import format_lineage

    entries = format_lineage(lineage)
    lines = summary.split("\n")
    label = "  lineage       "  # the provenance key as format_summary pads it
    at = next((i for i, line in enumerate(lines) if line.startswith(label)), None)
    if not entries or at is None:
        return summary
    lines[at:at + 1] = [label + entries[0]] + [" " * len(label) + entry for entry in entries[1:]]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m glnet.glnet_core.cli.info BUNDLE
    import sys

    from ..errors import GlnetError

    _parser = argparse.ArgumentParser(prog="glnet info", description=DESCRIPTION)
    add_arguments(_parser)
    try:
        sys.exit(run(_parser.parse_args()))
    except GlnetError as _exc:
        print(f"glnet: error: {_exc}", file=sys.stderr)
        sys.exit(2)
