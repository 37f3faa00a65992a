"""The value rules of glnet's numeric options: one rule per option, for every caller.

Each option that takes a number (``--window``, ``--threads``, ``--min-area``,
``--lr``...) has one :class:`NumberRule` here. The same rule is

* the argparse ``type=`` of the command line's option (:meth:`NumberRule.parse`),
* the check of the options dataclasses (:class:`~glnet_core.engine.options.EngineOptions`,
  :class:`~glnet.models.training.options.TrainOptions`), so library callers
  are protected too (:meth:`NumberRule.check`),
* the check of the QGIS Processing parameters of the same meaning, whose
  spin boxes also take their limits from it.

A value is refused when it is not a number, not a whole number where one is
expected, NaN or infinite, or outside the rule's bounds. The message names
the option: ``--window: must be at least 16, got 0``.

The bounds (README, "Bad input"; each rule says why in its ``why``):

========================  ======================  ==========================================
option                    accepted                why the bound
========================  ======================  ==========================================
``--window``              16 .. 65,536 px         below 16 a window is mostly margin and
                                                  padding; one float channel of a 65,536 px
                                                  window is 16 GiB
``--margin``              0 .. 32,767 px          less than half of the largest window (and
                                                  of the run's window: :func:`check_margin`)
``--batch``               1 .. 256 patches        activations grow with the batch; 256
                                                  patches of 508 px need tens of GiB
``--threads``             1 .. 1,024              more threads than any machine has cores
``--gpu-memory``          1 .. 1,048,576 MiB      a CUDA arena limit of 1 TiB is more than
                                                  any GPU holds
``--min-area``            0 .. 5.1e14 m2          the Earth's surface
``--simplify``            0 .. 4.0075e7 m         the Earth's equator
``--scenes-at-once``      1 .. 256                each has its own writer thread and open
                                                  outputs in the client
========================  ======================  ==========================================

and, for training, synth and the model commands, the rules below (epochs,
learning rates, batch sizes, seeds, class counts, scene sizes...).

Plain Python (only :mod:`glnet_core.errors`): the command line builds its
``--help`` from these rules, which must not load numpy or GDAL, and the
QGIS plugin imports them when it lists its algorithms.
"""

from __future__ import annotations

import argparse
import math
import numbers
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

from .errors import InputError

__all__ = [
    "NumberRule",
    "check_class_spec",
    "check_margin",
    "WINDOW",
    "MARGIN",
    "BATCH",
    "THREADS",
    "SCENES_AT_ONCE",
    "GPU_MEMORY",
    "MIN_AREA",
    "SIMPLIFY",
    "EPOCHS",
    "LEARNING_RATE",
    "BATCH_SIZE",
    "SUB_BATCH",
    "WEIGHT_DECAY",
    "FMREG",
    "GAMMA",
    "SEED",
    "WORKERS",
    "VAL_FRACTION",
    "RESOLUTION",
    "RESOLUTION_OR_UNSET",
    "CLASS_COUNT",
    "SCENES",
    "SCENE_SIZE",
    "EPSG_CODE",
    "PIXEL_SIZE",
    "JPEG_QUALITY",
    "JOBS",
    "OPSET",
    "VERIFY_WINDOWS",
    "CALIBRATION_WINDOWS",
]

Number = Union[int, float]


def _show(value: Union[numbers.Real, float]) -> str:
    """A number as people write it: 65536 (an int in full), 0.5, 5.1e+14, nan."""
    if isinstance(value, numbers.Integral):
        text = str(int(value))
        # A pasted 400-digit number stays readable on one line.
        return text if len(text) <= 24 else f"{text[:6]}... ({len(text.lstrip('-'))} digits)"
    return f"{float(value):g}"


@dataclass(frozen=True)
class NumberRule:
    """The accepted values of one numeric option.

    Attributes
    ----------
    option:
        The command-line option (``--window``), named at the start of each message.
    whole:
        A whole number (int) is expected; otherwise any finite real number.
    minimum, maximum:
        The bounds, inclusive unless ``above_minimum`` / ``below_maximum``.
    above_minimum:
        The value must be strictly greater than ``minimum`` (a learning rate > 0).
    below_maximum:
        The value must be strictly less than ``maximum`` (a fraction < 1).
    why:
        Why the bounds are what they are (documentation; not in messages).
    """

    option: str
    whole: bool
    minimum: float
    maximum: float
    above_minimum: bool = False
    below_maximum: bool = False
    why: str = ""

    def describe(self) -> str:
        """The accepted range in words, e.g. ``16 to 65536`` or ``more than 0 and at most 1``."""
        low = f"more than {_show(self.minimum)}" if self.above_minimum else f"at least {_show(self.minimum)}"
        high = f"less than {_show(self.maximum)}" if self.below_maximum else f"at most {_show(self.maximum)}"
        if not (self.above_minimum or self.below_maximum):
            return f"{_show(self.minimum)} to {_show(self.maximum)}"
        return f"{low} and {high}"

    def check(self, value: object, name: Optional[str] = None) -> Number:
        """``value`` if this rule accepts it (an int for a whole-number rule).

        Parameters
        ----------
        value:
            The value (an int or float; a float with no fraction passes a
            whole-number rule and is returned as an int).
        name:
            What to call the value in the message (a QGIS parameter's label);
            default: :attr:`option`.

        Returns
        -------
        int or float
            The value, as an ``int`` when :attr:`whole`, else a ``float``.

        Raises
        ------
        InputError
            ``<name>: <reason>, got <value>`` for anything else.
        """
        prefix = f"{name or self.option}: "
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InputError(f"{prefix}expected a number, got {value!r}")
        shown = _show(value)
        if isinstance(value, numbers.Integral):
            result: Number = int(value)  # exact, however large
        else:
            number = float(value)
            if not math.isfinite(number):
                raise InputError(f"{prefix}must be a finite number, got {shown}")
            if self.whole and not number.is_integer():
                raise InputError(f"{prefix}must be a whole number, got {shown}")
            result = int(number) if self.whole else number + 0.0
        if not self.whole:
            # An int too large for a float is beyond every bound anyway.
            result = float(result) + 0.0 if abs(result) < 1e308 else math.copysign(math.inf, result)  # + 0.0: no -0
        too_low = result <= self.minimum if self.above_minimum else result < self.minimum
        if too_low:
            word = "more than" if self.above_minimum else "at least"
            raise InputError(f"{prefix}must be {word} {_show(self.minimum)}, got {shown}")
        too_high = result >= self.maximum if self.below_maximum else result > self.maximum
        if too_high:
            word = "less than" if self.below_maximum else "at most"
            raise InputError(f"{prefix}must be {word} {_show(self.maximum)}, got {shown}")
        return result

    def check_optional(self, value: object, name: Optional[str] = None) -> Optional[Number]:
        """:meth:`check` for an optional value: ``None`` passes as ``None``."""
        return None if value is None else self.check(value, name)

    def from_text(self, text: str) -> Number:
        """The number written in ``text`` (``"2448"``, ``"0.5"``, ``"1e-4"``), checked.

        Raises
        ------
        InputError
            For text that is not a number (a whole number for a whole-number
            rule) and for any value :meth:`check` refuses.
        """
        raw = text.strip()
        if self.whole:
            try:
                value: Number = int(raw)
            except ValueError:
                raise InputError(f"{self.option}: expected a whole number, got {text!r}") from None
        else:
            try:
                value = float(raw)
            except ValueError:
                raise InputError(f"{self.option}: expected a number, got {text!r}") from None
        return self.check(value)

    def __call__(self, text: str) -> Number:
        """The argparse ``type=``: :meth:`from_text` with argparse's error type.

        argparse prefixes the message with the option itself, so the message
        here leaves it out; the command line's parser turns argparse's
        ``argument --window: ...`` into ``--window: ...``.
        """
        try:
            return self.from_text(text)
        except InputError as exc:
            raise argparse.ArgumentTypeError(_without_option(str(exc), self.option)) from None

    def list_type(self, counts: Sequence[int] = (1, 3)) -> "NumberListType":
        """An argparse ``type=`` for ``N`` or ``N,N,N`` (one value per training stage)."""
        return NumberListType(self, tuple(counts))


@dataclass(frozen=True)
class NumberListType:
    """argparse ``type=`` of a comma-separated list of values of one rule (``--epochs 120,50,120``)."""

    rule: NumberRule
    counts: Tuple[int, ...]

    def check(self, values: Sequence[object]) -> Tuple[Number, ...]:
        """Each value checked by the rule, and their count one of :attr:`counts`.

        Raises
        ------
        InputError
            A count not in :attr:`counts`, or a value the rule refuses.
        """
        if len(values) not in self.counts:
            allowed = " or ".join(str(c) for c in self.counts)
            raise InputError(f"{self.rule.option}: expected {allowed} values, got {len(values)}")
        return tuple(self.rule.check(v) for v in values)

    def __call__(self, text: str) -> Tuple[Number, ...]:
        try:
            parts = [self.rule.from_text(part) for part in text.split(",")]
            return self.check(parts)
        except InputError as exc:
            raise argparse.ArgumentTypeError(_without_option(str(exc), self.rule.option)) from None


def _without_option(message: str, option: str) -> str:
    prefix = f"{option}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def check_class_spec(spec: str, name: Optional[str] = None) -> str:
    """A class table spec (``--classes``) whose class count, when it is one, is within :data:`CLASS_COUNT`.

    Checked before a table of that many classes is built (``--classes
    100000000`` once built 10^8 colours and was killed for memory). Whether a
    name is a preset, or a file a class table, is decided when it is loaded.

    Parameters
    ----------
    spec:
        ``deepglobe``, ``inria``, a count ``N`` or a JSON file.
    name:
        What to call it in the message; default ``--classes``.

    Raises
    ------
    InputError
        ``--classes: a class count must be at least 2, got 1``.
    """
    text = spec.strip()
    if text.lstrip("+-").isdigit():
        try:
            CLASS_COUNT.from_text(text)
        except InputError as exc:
            raise InputError(f"{name or CLASS_COUNT.option}: a class count {_without_option(str(exc), CLASS_COUNT.option)}") from None
        return text
    return spec


def check_margin(window: int, margin: int) -> None:
    """Refuse a margin that leaves no core in a ``window`` px window.

    Raises
    ------
    InputError
        Unless ``2 * margin < window``.
    """
    if 2 * margin >= window:
        raise InputError(f"--margin: must be less than half the window ({window} px), got {margin}")


# --------------------------------------------------------------- segmentation
WINDOW = NumberRule(
    "--window", True, 16, 65536,
    why="below 16 px a window is mostly margin and padding (each window is padded up to one patch); "
        "one float channel of a 65,536 px window is 16 GiB",
)
MARGIN = NumberRule("--margin", True, 0, 32767, why="less than half of the largest window (and of the run's window)")
BATCH = NumberRule("--batch", True, 1, 256, why="activations grow with the batch: 256 patches of 508 px need tens of GiB")
THREADS = NumberRule("--threads", True, 1, 1024, why="more threads than any machine has cores only adds contention")
GPU_MEMORY = NumberRule("--gpu-memory", True, 1, 1_048_576,
                        why="CUDA arena limit per session in MiB; 0 would refuse every run, 1 TiB is more than any GPU holds")
MIN_AREA = NumberRule("--min-area", False, 0, 5.1e14, why="a minimum mapping unit larger than the Earth's surface (m2)")
SIMPLIFY = NumberRule("--simplify", False, 0, 4.0075e7, why="a tolerance longer than the Earth's equator (m)")
SCENES_AT_ONCE = NumberRule("--scenes-at-once", True, 1, 256,
                            why="each scene running has its own writer thread and open outputs in the client")

# ------------------------------------------------------------------- training
EPOCHS = NumberRule("--epochs", True, 1, 100_000, why="the published recipe uses 50 to 120 per stage")
LEARNING_RATE = NumberRule("--lr", False, 0, 1, above_minimum=True, why="Adam diverges long before 1; published 2e-5 to 5e-5")
BATCH_SIZE = NumberRule("--batch-size", True, 1, 4096, why="images per optimiser step; published 6")
SUB_BATCH = NumberRule("--sub-batch", True, 1, 1024, why="patches per local-branch pass; published 6")
WEIGHT_DECAY = NumberRule("--weight-decay", False, 0, 1, why="an L2 weight decay above 1 erases the weights; published 5e-4")
FMREG = NumberRule("--fmreg", False, 0, 1000, why="weight of a loss term; published 0.15")
GAMMA = NumberRule("--gamma", False, 0, 100, why="focal loss exponent; published 3")
SEED = NumberRule("--seed", True, 0, 2**63 - 1, why="seeds mean the same to torch, numpy and Python's random in 0 .. 2**63 - 1")
WORKERS = NumberRule("--workers", True, 0, 1024, why="data loading processes; more than any machine has cores")
VAL_FRACTION = NumberRule("--val-fraction", False, 0, 1, below_maximum=True, why="a fraction of --data; 1 would leave nothing to train on")

# ---------------------------------------------------------------- model files
RESOLUTION = NumberRule("--resolution", False, 0, 100_000, above_minimum=True,
                        why="metres per pixel; 100 km per pixel is coarser than any imagery")
RESOLUTION_OR_UNSET = NumberRule("--resolution", False, 0, 100_000, why="as RESOLUTION; 0 leaves it unset")
CLASS_COUNT = NumberRule("--classes", True, 2, 255, why="class ids are uint8 and 255 is nodata")
OPSET = NumberRule("--opset", True, 7, 99, why="ONNX opsets start at 7 (the manifest schema's minimum)")
VERIFY_WINDOWS = NumberRule("--verify-windows", True, 1, 1000, why="each is a full window through PyTorch and onnxruntime")
CALIBRATION_WINDOWS = NumberRule("--windows", True, 1, 10_000, why="each is a full window through the source bundle, per mode")

# ---------------------------------------------------------------------- synth
SCENES = NumberRule("--n", True, 1, 1_000_000, why="a million scenes of 2048 px is a terabyte")
# The same numbers as glnet_core.samples.landscape.MIN_SIZE / MAX_SIZE (a test checks): landscape
# imports numpy, which --help must not load.
SCENE_SIZE = NumberRule("--size", True, 64, 4096, why="peak memory is about 70 bytes per pixel: 1.1 GB at 4096 px")
EPSG_CODE = NumberRule("--crs", True, 1, 2**31 - 1, why="EPSG codes are positive 32-bit integers")
PIXEL_SIZE = NumberRule("--pixel-size", False, 0, 100_000, above_minimum=True, why="metres per pixel, as --resolution")
JPEG_QUALITY = NumberRule("--jpeg-quality", True, 1, 100, why="libjpeg's quality scale")
JOBS = NumberRule("--jobs", True, 1, 256, why="each process needs about 0.3 GB for a 2048 px scene")
