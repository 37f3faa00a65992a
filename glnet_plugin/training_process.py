"""``glnet train`` and ``glnet export`` as child processes of QGIS, in the user's own Python environment.

QGIS's Python has no torch, so ``glnet:train`` runs the command line in a
Python environment the user names (a virtual environment folder or a Python
executable, like the installations QGIS's OTB and SAGA providers name).
This module is that bridge, free of QGIS imports so it can be tested and
used on its own:

- :func:`find_interpreter` and :func:`probe_environment`: the environment's
  interpreter, and whether ``torch`` and ``glnet`` import in it
  (:class:`TrainingEnvironmentError` says what is wrong, in one line);
- :func:`train_command` / :func:`export_command`: the command lines
  (``PY -m glnet.glnet_core train ...``);
- :func:`run_child`: runs one, feeding every output line to a callback,
  polling a cancellation hook (cancel: SIGINT, so ``glnet train`` stops
  after saving nothing half-done, then a kill after :data:`CANCEL_GRACE_S`),
  and never returning while the child still runs;
- :class:`TrainingProgress`: the fraction of a run done, from the stage and
  epoch lines ``glnet train`` prints.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..glnet_core.errors import InputError
from ..glnet_core.training_plan import PUBLISHED_EPOCHS, STAGES, planned_epochs

__all__ = [
    "CANCEL_GRACE_S",
    "ERROR_PREFIX",
    "PUBLISHED_EPOCHS",
    "PYTHON_ENV_VAR",
    "STAGES",
    "TORCH_VERSION",
    "ChildResult",
    "EnvironmentProbe",
    "TrainRequest",
    "TrainingEnvironmentError",
    "TrainingProgress",
    "child_environment",
    "export_command",
    "find_interpreter",
    "planned_epochs",
    "probe_environment",
    "run_child",
    "train_command",
]

#: Environment variable naming the training environment when the provider setting is empty (qgis_process batch runs).
PYTHON_ENV_VAR = "GLNET_TRAIN_PYTHON"
#: The torch the set-up instructions pin: this version's CPU wheel; an unpinned ``torch`` pulls a multi-GB CUDA build.
TORCH_VERSION = "2.13.0"
#: Seconds a cancelled child gets to stop after SIGINT before it is killed.
CANCEL_GRACE_S = 30.0
#: How the command line starts its one-line error messages.
ERROR_PREFIX = "glnet: error: "

PathLike = Union[str, Path]

# What a training environment must import; printed as JSON by the probe.
_PROBE = r"""
import json, sys
found = {"python": sys.version.split()[0]}
for name, module in (("torch", "torch"), ("glnet", "glnet.glnet_core.cli.train")):
    try:
        __import__(module, fromlist=["_"])
        found[name] = getattr(__import__(name), "__version__", "?")
    except BaseException as exc:
        found[name + "_error"] = " ".join(f"{type(exc).__name__}: {exc}".split())
print("GLNET_PROBE " + json.dumps(found))
"""

# Variables of QGIS's own Python (and, on Windows, of its GDAL and PROJ) that
# would make another interpreter load QGIS's modules or data instead of its own.
_FOREIGN_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "GDAL_DATA", "GDAL_DRIVER_PATH",
                      "PROJ_LIB", "PROJ_DATA")


class TrainingEnvironmentError(InputError):
    """The training environment is not set, not found, or cannot run ``glnet train``.

    Attributes
    ----------
    kind:
        ``"unset"``, ``"missing"`` (no such path), ``"no-python"`` (a folder
        without an interpreter), ``"not-executable"``, ``"cannot-run"``,
        ``"no-torch"`` or ``"no-glnet"``.
    path:
        The path named (empty for ``"unset"``).
    detail:
        What the probe reported (the import error), or ``""``.
    """

    def __init__(self, kind: str, path: str = "", detail: str = "") -> None:
        self.kind = kind
        self.path = path
        self.detail = detail
        super().__init__(self._english())

    def _english(self) -> str:
        texts = {
            "unset": f"no Python environment for training is set (set {PYTHON_ENV_VAR})",
            "missing": f"the training environment {self.path} does not exist",
            "no-python": f"the training environment {self.path} is a folder without bin/python (not a virtual environment)",
            "not-executable": f"the training environment {self.path} is not an executable Python interpreter",
            "cannot-run": f"the training environment {self.path} does not run: {self.detail}",
            "no-torch": f"the training environment {self.path} cannot import torch ({self.detail})",
            "no-glnet": f"the training environment {self.path} cannot import glnet's training command ({self.detail})",
        }
        return texts[self.kind]


def find_interpreter(value: str) -> Path:
    """The Python interpreter a training-environment setting names.

    Parameters
    ----------
    value:
        A virtual environment (or conda environment) folder, or the path of
        a Python executable; ``~`` is expanded.

    Returns
    -------
    pathlib.Path
        The interpreter (``FOLDER/bin/python3``, ``FOLDER/bin/python``, or on
        Windows ``FOLDER\\Scripts\\python.exe`` / ``FOLDER\\python.exe``).

    Raises
    ------
    TrainingEnvironmentError
        ``unset`` for an empty value, ``missing``, ``no-python`` or
        ``not-executable``.
    """
    text = value.strip()
    if not text:
        raise TrainingEnvironmentError("unset")
    path = Path(os.path.expanduser(text))
    if not path.exists():
        raise TrainingEnvironmentError("missing", str(path))
    if path.is_dir():
        names = (("Scripts", "python.exe"), ("python.exe",)) if os.name == "nt" else (("bin", "python3"), ("bin", "python"))
        for parts in names:
            candidate = path.joinpath(*parts)
            if candidate.is_file():
                return candidate
        raise TrainingEnvironmentError("no-python", str(path))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise TrainingEnvironmentError("not-executable", str(path))
    return path


@dataclass(frozen=True)
class EnvironmentProbe:
    """What :func:`probe_environment` found: the interpreter and the versions it imports."""

    python: Path
    python_version: str
    torch_version: str
    glnet_version: str


def child_environment(base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment variables of a child interpreter: ``base`` (default: ours) without QGIS's Python settings.

    Output is unbuffered and UTF-8, so every line arrives as it is printed.
    """
    env = dict(os.environ if base is None else base)
    for name in _FOREIGN_VARIABLES:
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def probe_environment(python: Path, timeout_s: float = 180.0) -> EnvironmentProbe:
    """Check that ``python`` runs and imports ``torch`` and glnet's training command.

    Parameters
    ----------
    python:
        The interpreter (:func:`find_interpreter`).
    timeout_s:
        Seconds the probe may take (importing torch from a cold disk takes several).

    Returns
    -------
    EnvironmentProbe

    Raises
    ------
    TrainingEnvironmentError
        ``cannot-run`` (it does not start, or prints no answer in time),
        ``no-torch`` or ``no-glnet``, each with the import error.
    """
    try:
        proc = subprocess.run([str(python), "-c", _PROBE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout_s, env=child_environment())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TrainingEnvironmentError("cannot-run", str(python), " ".join(str(exc).split())) from None
    found: Dict[str, str] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("GLNET_PROBE "):
            found = json.loads(line[len("GLNET_PROBE "):])
    if not found:
        last = [line for line in (proc.stderr or "").splitlines() if line.strip()]
        raise TrainingEnvironmentError("cannot-run", str(python), last[-1].strip() if last else f"exit status {proc.returncode}")
    if "torch_error" in found:
        raise TrainingEnvironmentError("no-torch", str(python), found["torch_error"])
    if "glnet_error" in found:
        raise TrainingEnvironmentError("no-glnet", str(python), found["glnet_error"])
    return EnvironmentProbe(python, found.get("python", "?"), found.get("torch", "?"), found.get("glnet", "?"))


@dataclass
class TrainRequest:
    """The options of one ``glnet train`` run (see ``glnet train --help``).

    With :attr:`resume`, only :attr:`out` and :attr:`device` are passed: a
    resumed run takes everything else from the checkpoint.
    """

    out: str
    images: Sequence[str] = ()
    labels: Optional[str] = None
    label_layer: Optional[str] = None
    label_field: Optional[str] = None
    classes: Optional[str] = None
    background: Optional[str] = None
    config: Optional[str] = None
    init: Optional[str] = None
    backbone_weights: Optional[str] = None
    freeze_backbone: bool = False
    stage: Optional[str] = None
    epochs: Sequence[int] = ()
    val_fraction: Optional[float] = None
    device: str = "auto"
    overwrite: bool = False
    resume: bool = False


def _module_command(python: PathLike, command: str) -> List[str]:
    return [str(python), "-m", "glnet.glnet_core", command]


def train_command(python: PathLike, request: TrainRequest) -> List[str]:
    """The ``PY -m glnet.glnet_core train ...`` command line of ``request``."""
    cmd = _module_command(python, "train")
    if request.resume:
        return cmd + ["--resume", "--out", request.out, "--device", request.device]
    cmd += ["--images", *request.images]
    if request.labels:
        cmd += ["--labels", request.labels]
    options: Sequence[Tuple[str, Optional[str]]] = (
        ("--label-layer", request.label_layer),
        ("--label-field", request.label_field),
        ("--classes", request.classes),
        ("--background", request.background),
        ("--init", request.init),
        ("--config", None if request.init else request.config),
        ("--backbone-weights", request.backbone_weights),
        ("--stage", request.stage),
        ("--epochs", ",".join(str(int(n)) for n in request.epochs) or None),
        ("--val-fraction", None if request.val_fraction is None else repr(float(request.val_fraction))),
    )
    for flag, value in options:
        if value:
            cmd += [flag, value]
    if request.freeze_backbone:
        cmd.append("--freeze-backbone")
    cmd += ["--device", request.device, "--out", request.out]
    if request.overwrite:
        cmd.append("--overwrite")
    return cmd


def export_command(python: PathLike, checkpoint: str, bundle: str, precision: str = "fp32", overwrite: bool = False) -> List[str]:
    """The ``PY -m glnet.glnet_core export CKPT --out BUNDLE`` command line."""
    cmd = _module_command(python, "export") + [checkpoint, "--out", bundle, "--precision", precision]
    return cmd + (["--overwrite"] if overwrite else [])


@dataclass
class ChildResult:
    """How a child process ended.

    Attributes
    ----------
    returncode:
        Its exit status (negative: the signal that ended it, on POSIX).
    cancelled:
        The cancellation hook fired while it ran (it was interrupted, then
        killed if it did not stop within the grace period).
    killed:
        It had to be killed (it did not stop after SIGINT in time).
    error:
        The message of its last ``glnet: error: ...`` line, or None.
    tail:
        Its last output lines (for a failure without such a line).
    """

    returncode: int
    cancelled: bool = False
    killed: bool = False
    error: Optional[str] = None
    tail: List[str] = field(default_factory=list)

    def failure(self) -> Optional[str]:
        """One line saying why it failed, or None when it succeeded (status 0)."""
        if self.returncode == 0:
            return None
        if self.error:
            return self.error
        last = next((line.strip() for line in reversed(self.tail) if line.strip()), "")
        return f"{last} (exit status {self.returncode})" if last else f"exit status {self.returncode}"


_EOF = object()


def _pump(stream, lines: "queue.Queue[object]") -> None:
    # Text mode with universal newlines: a carriage return ends a line too.
    try:
        for line in stream:
            lines.put(line.rstrip("\r\n"))
    finally:
        lines.put(_EOF)


def _interrupt(proc: subprocess.Popen) -> None:
    """Ctrl-C for the child: Python raises KeyboardInterrupt there and ``glnet train`` stops cleanly."""
    try:
        if os.name == "nt":
            # Windows has no SIGINT for another process; CTRL_BREAK ends it at once
            # (the checkpoint still holds the last finished epoch: it is replaced whole).
            proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            os.kill(proc.pid, signal.SIGINT)
    except (ProcessLookupError, OSError):
        pass


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child and, on POSIX, everything it started (its own process group)."""
    try:
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, OSError):
        pass


def run_child(
    command: Sequence[str],
    on_line: Callable[[str], None],
    is_cancelled: Callable[[], bool],
    env: Optional[Mapping[str, str]] = None,
    poll_s: float = 0.1,
    grace_s: float = CANCEL_GRACE_S,
    tail_lines: int = 20,
) -> ChildResult:
    """Run ``command`` to its end, feeding each output line (stdout and stderr merged) to ``on_line``.

    ``on_line`` and ``is_cancelled`` are called on the calling thread (a
    reader thread only queues the lines). When ``is_cancelled()`` turns true
    the child gets SIGINT (``glnet train`` then keeps the checkpoint of the
    last finished epoch and exits 130) and, if still running after
    ``grace_s`` seconds, is killed. Whatever happens here (an exception in a
    callback included), the child is not running when this returns.

    Parameters
    ----------
    command:
        The program and its arguments.
    on_line:
        Called with each line, without its line ending.
    is_cancelled:
        Polled every ``poll_s`` seconds and after every line.
    env:
        The child's environment (default :func:`child_environment`).

    Returns
    -------
    ChildResult

    Raises
    ------
    OSError
        The program cannot be started.
    """
    windows = os.name == "nt"
    # Its own process group (session): the kill reaches its data-loading
    # workers too, and a Ctrl-C meant for QGIS's terminal does not reach it.
    proc = subprocess.Popen(
        list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        encoding="utf-8", errors="replace", bufsize=1, env=dict(env) if env is not None else child_environment(),
        start_new_session=not windows, creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if windows else 0,
    )
    lines: "queue.Queue[object]" = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), name="glnet-child-output", daemon=True)
    reader.start()
    result = ChildResult(returncode=-1)
    tail: List[str] = []
    deadline: Optional[float] = None
    ended = False
    try:
        while not (ended and proc.poll() is not None):
            try:
                item = lines.get(timeout=poll_s)
            except queue.Empty:
                item = None
            if item is _EOF:
                ended = True
            elif isinstance(item, str):
                tail = (tail + [item])[-tail_lines:]
                if item.startswith(ERROR_PREFIX):
                    result.error = item[len(ERROR_PREFIX):].strip()
                on_line(item)
            if not result.cancelled and is_cancelled():
                result.cancelled = True
                deadline = time.monotonic() + grace_s
                _interrupt(proc)
            if deadline is not None and not result.killed and time.monotonic() > deadline and proc.poll() is None:
                result.killed = True
                _kill(proc)
        result.returncode = proc.wait()
    finally:
        if proc.poll() is None:
            _kill(proc)
            proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    result.tail = tail
    return result


_STAGE_LINE = re.compile(r"^stage (?P<stage>\w+): (?P<epochs>\d+) epochs? from epoch (?P<first>\d+)")
_EPOCH_LINE = re.compile(r"^(?P<stage>\w+) epoch (?P<epoch>\d+)/(?P<epochs>\d+):")


class TrainingProgress:
    """The fraction of a training run done, from the lines ``glnet train`` prints.

    ``stage global: 2 epochs from epoch 1, ...`` starts a stage (a resumed
    run names the epoch it continues from: the stages before it and the
    epochs before that one are done); ``global epoch 1/2: loss ...`` ends an
    epoch. The fraction is over all epochs of the planned stages; a line
    naming another epoch count corrects the plan.

    Parameters
    ----------
    plan:
        ``(stage, epochs)`` in training order, e.g. ``[("global", 120), ("g2l", 50), ("l2g", 120)]``.
    """

    def __init__(self, plan: Sequence[Tuple[str, int]]) -> None:
        self.stages: List[str] = [stage for stage, _ in plan]
        self.epochs: Dict[str, int] = {stage: max(int(n), 1) for stage, n in plan}
        self.done_in: Dict[str, int] = {stage: 0 for stage in self.stages}

    def _stage(self, stage: str, epochs: int) -> None:
        if stage not in self.epochs:
            self.stages.append(stage)
            self.done_in[stage] = 0
        self.epochs[stage] = max(epochs, 1)
        # The stages before this one are finished.
        for earlier in self.stages[: self.stages.index(stage)]:
            self.done_in[earlier] = self.epochs[earlier]

    def feed(self, line: str) -> Optional[float]:
        """The fraction done (0 .. 1) after ``line``, or None when the line says nothing about progress."""
        match = _STAGE_LINE.match(line)
        if match:
            stage = match["stage"]
            self._stage(stage, int(match["epochs"]))
            self.done_in[stage] = min(int(match["first"]) - 1, self.epochs[stage])
            return self.fraction()
        match = _EPOCH_LINE.match(line)
        if match:
            stage = match["stage"]
            self._stage(stage, int(match["epochs"]))
            self.done_in[stage] = min(int(match["epoch"]), self.epochs[stage])
            return self.fraction()
        return None

    def fraction(self) -> float:
        """The fraction of the planned epochs done."""
        total = sum(self.epochs[s] for s in self.stages)
        return min(sum(self.done_in.values()) / total, 1.0) if total else 0.0
