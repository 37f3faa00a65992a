"""``glnet quantize``: an int8 copy of a model bundle, calibrated on your rasters and verified against the source."""

from __future__ import annotations

import argparse
import sys

from ..option_rules import CALIBRATION_WINDOWS, THREADS, VERIFY_WINDOWS
from .input_options import BANDS_HELP, INPUT_RANGE_HELP, input_path, parse_bands, parse_input_range

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run"]

HELP = "make an int8 bundle (static quantization), calibrated on rasters and verified against the source bundle"

DESCRIPTION = """\
Quantize every subgraph of an fp32 or fp16 bundle to int8 (static, QDQ, int8
per-channel weights): about 2 to 3 times faster on CPUs with int8 dot
products (AVX-512 VNNI, AVX-VNNI, ARM dot product), a quarter of the fp32
size. No PyTorch needed; needs the onnx package (pip install 'glnet[quantize]').

Calibration windows are read from the --calibration rasters exactly as
glnet segment reads them (the same --bands, --input-range and ground
resolution matching), and run through the source bundle to record what each
subgraph sees. The windows after them, never calibrated on, verify the new
bundle: the share of pixels given the same class as the source bundle is
printed and written into the bundle's manifest (glnet info shows it). Under
99 % a WARNING is printed (the bundle is still written): calibrate on more
windows, or on rasters like the ones you will segment.

The new bundle works everywhere a bundle does (glnet segment, the QGIS
plugin).
"""

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet quantize``.

    Parameters
    ----------
    parser:
        The sub-command's parser.
    """
    parser.description = DESCRIPTION
    parser.add_argument("bundle", type=input_path, metavar="BUNDLE", help="the fp32 or fp16 bundle to quantize")
    parser.add_argument("--calibration", required=True, nargs="+", type=input_path, metavar="RASTER",
                        help="rasters like those you will segment: the first windows calibrate, the next verify")
    parser.add_argument("--out", required=True, metavar="BUNDLE_INT8", help="the int8 bundle folder to write (NAME.glnet)")
    parser.add_argument("--windows", type=CALIBRATION_WINDOWS, default=8, metavar="N", help="calibration windows (default 8)")
    parser.add_argument("--verify-windows", type=VERIFY_WINDOWS, default=2, metavar="N",
                        help="held-out windows the agreement is measured on (default 2)")
    parser.add_argument("--bands", type=parse_bands, metavar="1,2,3", help=BANDS_HELP)
    parser.add_argument("--input-range", type=parse_input_range, metavar="MIN,MAX", help=INPUT_RANGE_HELP)
    parser.add_argument("--no-resample", action="store_true",
                        help="read at the rasters' own resolution even when the model was trained at another")
    parser.add_argument("--threads", type=THREADS, metavar="N", help="onnxruntime threads (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--quiet", action="store_true", help="no progress lines; the result line and warnings only")


def run(args: argparse.Namespace) -> int:
    """Run ``glnet quantize``.

    Parameters
    ----------
    args:
        The parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 (also when the agreement is under 99 %: that is a WARNING).

    Raises
    ------
    GlnetError
        A bad bundle, raster or output (one line, exit 2), a failed write (exit 1).
    """
    import onnx  # noqa: F401  (here: a missing onnx gives the one-line install hint before any work)

    from ..engine.quantize import WARN_AGREEMENT, quantize_bundle

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    result = quantize_bundle(
        args.bundle, args.calibration, args.out, windows=args.windows, verify_windows=args.verify_windows,
        overwrite=args.overwrite, bands=args.bands, input_range=args.input_range,
        match_resolution=not args.no_resample, threads=args.threads, log=log,
    )
    per_mode = ", ".join(f"{m} {100 * a:.2f} %" for m, a in result.modes.items())
    net = result.network_s
    speed = f", network time {net['source']:.2f} s -> {net['int8']:.2f} s" if net["int8"] > 0 else ""
    print(f"wrote {result.out} (int8): class agreement with the source {100 * result.agreement:.2f} % ({per_mode}) "
          f"on {result.verification_windows} held-out window(s), {result.pixels} px; calibrated on "
          f"{result.calibration_windows} window(s){speed}")
    if result.agreement < WARN_AGREEMENT:
        print(f"WARNING: the int8 bundle gives the source's class on only {100 * result.agreement:.2f} % of the "
              f"held-out pixels (under {100 * WARN_AGREEMENT:.0f} %): calibrate on more windows (--windows) or on "
              "rasters like those you will segment, or keep the fp32/fp16 bundle", file=sys.stderr)
    return 0
