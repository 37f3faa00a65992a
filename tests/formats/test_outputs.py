"""Output paths (glnet_core/formats/outputs.py, output_entries.py, output_plan.py): checks, the part name, atomic commits.

Real files in ``tmp_path``; a FIFO from ``os.mkfifo`` and ``/dev/null`` stand for
targets that are not regular files. Write failures come from a real limit: a
child process with ``RLIMIT_FSIZE`` lowered (and ``SIGXFSZ`` ignored) gets
``EFBIG`` from the kernel as soon as a file grows past it, like a full disk
(``ENOSPC``) would; the tests run as root here, so permission bits cannot make a
write fail.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glnet.glnet_core.errors import (
    Cancelled,
    CheckpointError,
    ExportError,
    InputError,
    MachineError,
    OutputPathError,
    OutputWriteError,
)
from glnet.glnet_core.formats.output_entries import atomic_entries
from glnet.glnet_core.formats.output_plan import (
    InputSource,
    OutputTarget,
    check_distinct,
    check_outputs,
    raster_sidecars,
    related_files,
    spec_sources,
)
from glnet.glnet_core.formats.outputs import (
    atomic_file,
    atomic_folder,
    check_file_target,
    check_folder_target,
    commit_file,
    is_write_failure,
    part_path,
    write_failed,
    write_json,
    write_text,
)


def _listing(folder: Path):
    return sorted(p.name for p in folder.iterdir())


def test_part_name_is_hidden_next_to_the_target(tmp_path):
    assert part_path(tmp_path / "mask.tif") == tmp_path / ".mask.tif.part"
    assert part_path(tmp_path / "model.glnet") == tmp_path / ".model.glnet.part"
    assert part_path("out.json") == Path(".out.json.part")


def test_error_classes():
    assert issubclass(OutputPathError, InputError)  # a bad path is bad input: exit status 2
    assert issubclass(OutputWriteError, MachineError)  # a failed write is the machine: exit status 1
    assert not issubclass(OutputWriteError, InputError)


# -- checks ------------------------------------------------------------------


def test_file_target_checks(tmp_path):
    good = tmp_path / "new.tif"
    assert check_file_target(str(good), overwrite=False) == good

    with pytest.raises(OutputPathError) as e:
        check_file_target(tmp_path / "missing" / "x.tif", overwrite=True)
    assert str(e.value) == f"output folder {tmp_path / 'missing'} does not exist"

    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputPathError, match=r"afile is not a folder; it cannot hold x\.tif$"):
        check_file_target(tmp_path / "afile" / "x.tif", overwrite=True)

    with pytest.raises(OutputPathError) as e:
        check_file_target(tmp_path, overwrite=True)
    assert str(e.value) == f"{tmp_path} is a folder; give a file name"

    existing = tmp_path / "old.tif"
    existing.write_bytes(b"precious")
    with pytest.raises(OutputPathError) as e:
        check_file_target(existing, overwrite=False)
    assert str(e.value) == f"{existing} already exists; pass --overwrite to replace it"
    assert check_file_target(existing, overwrite=True) == existing
    assert existing.read_bytes() == b"precious"  # a check never touches anything


def test_messages_name_the_option_and_use_the_callers_class(tmp_path):
    existing = tmp_path / "m.ckpt"
    existing.write_bytes(b"x")
    with pytest.raises(CheckpointError) as e:
        check_file_target(existing, overwrite=False, option="--out", error=CheckpointError)
    assert str(e.value) == f"--out: {existing} already exists; pass --overwrite to replace it"
    with pytest.raises(OutputPathError) as e:
        check_file_target(existing, overwrite=False, option="--out-mask", hint="pass --overwrite or --resume")
    assert str(e.value) == f"--out-mask: {existing} already exists; pass --overwrite or --resume"
    with pytest.raises(OutputPathError, match=r"^--json: output folder .* does not exist$"):
        check_file_target(tmp_path / "no" / "r.json", overwrite=False, option="--json")


def test_fifo_and_devices_are_refused_even_with_overwrite(tmp_path):
    fifo = tmp_path / "pipe.tif"
    os.mkfifo(fifo)
    for overwrite in (False, True):
        with pytest.raises(OutputPathError, match=r"pipe\.tif is not a regular file \(a device, pipe or socket\)"):
            check_file_target(fifo, overwrite=overwrite)
        with pytest.raises(OutputPathError, match=r"pipe\.tif is not a folder"):
            check_folder_target(fifo, overwrite=overwrite)
    with pytest.raises(OutputPathError, match="/dev/null is not a regular file"):
        check_file_target("/dev/null", overwrite=True)
    with pytest.raises(OutputPathError, match="/dev/null is not a regular file"):
        write_json("/dev/null", {"a": 1}, overwrite=True)
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file()
    assert _listing(tmp_path) == ["pipe.tif"]


def test_folder_target_checks(tmp_path):
    assert check_folder_target(tmp_path / "new.glnet", overwrite=False) == tmp_path / "new.glnet"
    (tmp_path / "file.txt").write_text("x")
    for overwrite in (False, True):
        with pytest.raises(OutputPathError) as e:
            check_folder_target(tmp_path / "file.txt", overwrite=overwrite, option="--out")
        assert str(e.value) == f"--out: {tmp_path / 'file.txt'} is a file; give a folder"
    (tmp_path / "set").mkdir()
    with pytest.raises(OutputPathError, match="already exists; pass --overwrite to replace it"):
        check_folder_target(tmp_path / "set", overwrite=False)
    assert check_folder_target(tmp_path / "set", overwrite=True) == tmp_path / "set"
    with pytest.raises(OutputPathError, match="does not exist"):
        check_folder_target(tmp_path / "missing" / "set", overwrite=True)


# -- atomic files ------------------------------------------------------------


def test_atomic_file_commits_only_when_complete(tmp_path):
    out = tmp_path / "out.bin"
    with atomic_file(out, overwrite=False) as part:
        assert part == tmp_path / ".out.bin.part" and not part.exists()
        part.write_bytes(b"new")
        assert not out.exists()  # a reader never sees a half-written output
    assert out.read_bytes() == b"new"
    assert _listing(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(), Cancelled("cancelled")], ids=["error", "interrupt", "cancel"])
def test_a_failure_leaves_nothing_and_keeps_the_old_file(tmp_path, exc):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    with pytest.raises(type(exc)):
        with atomic_file(out, overwrite=True) as part:
            part.write_bytes(b"half")
            raise exc
    assert out.read_bytes() == b"old"
    assert _listing(tmp_path) == ["out.bin"]


def test_a_stale_part_is_replaced(tmp_path):
    out = tmp_path / "out.bin"
    part_path(out).write_bytes(b"left by a killed run")
    with atomic_file(out, overwrite=False) as part:
        assert not part.exists()
        part.write_bytes(b"fresh")
    assert out.read_bytes() == b"fresh" and _listing(tmp_path) == ["out.bin"]


def test_a_target_that_appears_meanwhile_is_not_replaced(tmp_path):
    out = tmp_path / "out.bin"
    with pytest.raises(OutputPathError, match="already exists"):
        with atomic_file(out, overwrite=False) as part:
            part.write_bytes(b"mine")
            out.write_bytes(b"someone else's")
    assert out.read_bytes() == b"someone else's"
    assert _listing(tmp_path) == ["out.bin"]


def test_refused_before_the_block_runs(tmp_path):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    ran = []
    with pytest.raises(OutputPathError, match="already exists"):
        with atomic_file(out, overwrite=False):
            ran.append(True)
    assert not ran and _listing(tmp_path) == ["out.bin"]


def test_atomic_file_in_a_part_folder_keeps_the_name_for_gdal(tmp_path):
    out = tmp_path / "stats.gpkg"
    with atomic_file(out, overwrite=False, in_folder=True) as part:
        assert part == tmp_path / ".stats.gpkg.part" / "stats.gpkg"  # the driver sees .gpkg
        part.write_bytes(b"layer")
        (part.parent / "stats.gpkg-journal").write_bytes(b"left by sqlite")
    assert out.read_bytes() == b"layer" and _listing(tmp_path) == ["stats.gpkg"]
    with pytest.raises(RuntimeError):
        with atomic_file(out, overwrite=True, in_folder=True) as part:
            part.write_bytes(b"half")
            raise RuntimeError("boom")
    assert out.read_bytes() == b"layer" and _listing(tmp_path) == ["stats.gpkg"]


def test_commit_moves_companions_and_drops_stale_ones(tmp_path):
    out = tmp_path / "mask.tif"
    out.write_bytes(b"old")
    (tmp_path / "mask.tif.aux.xml").write_text("old names")
    (tmp_path / "mask.tif.ovr").write_text("old overviews")
    part = part_path(out)
    part.write_bytes(b"new")
    Path(str(part) + ".aux.xml").write_text("new names")
    commit_file(
        part, out, overwrite=True,
        companions=[(str(part) + ".aux.xml", str(out) + ".aux.xml"), (str(part) + ".ovr", str(out) + ".ovr")],
    )
    assert out.read_bytes() == b"new"
    assert (tmp_path / "mask.tif.aux.xml").read_text() == "new names"
    assert _listing(tmp_path) == ["mask.tif", "mask.tif.aux.xml"]  # the old overviews described the old raster


def test_write_json_and_text(tmp_path):
    out = write_json(tmp_path / "r.json", {"miou": 0.5, "classes": ["a", "b"]}, overwrite=False)
    assert out.read_text(encoding="utf-8").endswith("\n")
    assert json.loads(out.read_text(encoding="utf-8")) == {"miou": 0.5, "classes": ["a", "b"]}
    with pytest.raises(OutputPathError, match="already exists"):
        write_json(out, {}, overwrite=False)
    write_text(out, "é\n", overwrite=True)
    assert out.read_text(encoding="utf-8") == "é\n"
    with pytest.raises(ValueError):
        write_json(tmp_path / "nan.json", {"x": float("nan")}, overwrite=False)  # NaN is not JSON
    assert _listing(tmp_path) == ["r.json"]


# -- atomic folders ----------------------------------------------------------


def test_atomic_folder_commit_and_replace(tmp_path):
    out = tmp_path / "m.glnet"
    with atomic_folder(out, overwrite=False) as part:
        assert part == tmp_path / ".m.glnet.part" and part.is_dir() and not list(part.iterdir())
        (part / "manifest.json").write_text("{}")
        assert not out.exists()
    assert _listing(out) == ["manifest.json"]

    with atomic_folder(out, overwrite=True) as part:
        (part / "global.onnx").write_bytes(b"g")
    assert _listing(out) == ["global.onnx"]  # replaced whole, not merged
    assert _listing(tmp_path) == ["m.glnet"]  # neither the part nor the old folder is left

    with pytest.raises(RuntimeError):
        with atomic_folder(out, overwrite=True) as part:
            (part / "half.onnx").write_bytes(b"h")
            raise RuntimeError("verification failed")
    assert _listing(out) == ["global.onnx"] and _listing(tmp_path) == ["m.glnet"]

    with pytest.raises(OutputPathError, match="already exists"):
        with atomic_folder(out, overwrite=False):
            pass


# -- write failures ----------------------------------------------------------


def test_write_failure_classification(tmp_path):
    import errno

    part = tmp_path / ".x.part"
    assert is_write_failure(OSError(errno.ENOSPC, "No space left on device"), part)
    assert is_write_failure(OSError(errno.EFBIG, "File too large"), part)
    assert is_write_failure(PermissionError(errno.EACCES, "Permission denied", str(part)), part)
    assert is_write_failure(OSError(errno.EACCES, "Permission denied", str(part / "inner.onnx")), part)
    # Reading an input inside the block is not a write failure.
    assert not is_write_failure(FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "in.tif")), part)
    assert not is_write_failure(RuntimeError("boom"), part)
    err = write_failed(tmp_path / "x", OSError(errno.ENOSPC, "No space left on device"), option="--out")
    assert isinstance(err, OutputWriteError) and str(err) == f"--out: cannot write {tmp_path / 'x'}: No space left on device"


def _with_file_size_limit(limit: int):
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return setup


def test_a_failed_write_raises_output_write_error_and_leaves_nothing(tmp_path):
    """A file-size limit of 64 bytes makes the kernel refuse the JSON writer's part file (EFBIG)."""
    code = textwrap.dedent(
        f"""
        from glnet.glnet_core.errors import OutputWriteError
        from glnet.glnet_core.formats.outputs import write_json
        try:
            write_json({str(tmp_path / "r.json")!r}, {{"numbers": list(range(100))}}, overwrite=False, option="--json")
        except OutputWriteError as exc:
            print("OutputWriteError", exc)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=_with_file_size_limit(64))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"OutputWriteError --json: cannot write {tmp_path / 'r.json'}: File too large"
    assert _listing(tmp_path) == []


# -- entries in a kept folder ------------------------------------------------


def test_atomic_entries_into_a_new_folder(tmp_path):
    out = tmp_path / "set"
    with atomic_entries(out, ["images", "scenes.json"], overwrite=False) as part:
        assert part == tmp_path / ".set.part" and part.is_dir()
        (part / "images").mkdir()
        (part / "scenes.json").write_text("{}")
        assert not out.exists()
    assert _listing(out) == ["images", "scenes.json"] and _listing(tmp_path) == ["set"]


def test_atomic_entries_keep_the_folder_and_the_users_files(tmp_path):
    out = tmp_path / "set"
    out.mkdir()
    inode = out.stat().st_ino
    (out / "notes.txt").write_text("mine")
    (out / "lookalike").mkdir()  # an entry of the earlier run that the new one does not write
    (out / "scenes.json").write_text("old")
    with pytest.raises(OutputPathError) as e:
        with atomic_entries(out, ["images", "lookalike", "scenes.json"], overwrite=False, hint="pass --overwrite to replace the data set"):
            pass
    assert str(e.value) == f"{out / 'lookalike'} already exists; pass --overwrite to replace the data set"

    with pytest.raises(KeyboardInterrupt):
        with atomic_entries(out, ["images", "lookalike", "scenes.json"], overwrite=True) as part:
            (part / "scenes.json").write_text("half")
            raise KeyboardInterrupt
    assert _listing(out) == ["lookalike", "notes.txt", "scenes.json"] and (out / "scenes.json").read_text() == "old"

    with atomic_entries(out, ["images", "lookalike", "scenes.json"], overwrite=True) as part:
        (part / "images").mkdir()
        (part / "scenes.json").write_text("new")
    assert out.stat().st_ino == inode  # the folder itself is kept (it may be a shell's working folder)
    assert _listing(out) == ["images", "notes.txt", "scenes.json"]  # the old run's lookalike/ went with it
    assert (out / "scenes.json").read_text() == "new"
    assert _listing(tmp_path) == ["set"]  # neither part nor old folder left


def test_atomic_entries_in_the_working_folder(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with atomic_entries(".", ["summary.json"], overwrite=False) as part:
        assert part == tmp_path / ".here.part"
        (part / "summary.json").write_text("{}")
    assert _listing(here) == ["summary.json"] and _listing(tmp_path) == ["here"]


def test_atomic_entries_file_by_file_keeps_the_users_files_in_sub_folders(tmp_path):
    out = tmp_path / "set"
    (out / "images").mkdir(parents=True)
    (out / "images" / "mine.tif").write_text("mine")
    (out / "images" / "synth_00001.tif").write_text("old run")
    (out / "lookalike").mkdir()
    (out / "lookalike" / "synth_00001.tif").write_text("old run")
    names = ["scenes.json", "images/synth_00001.tif", "lookalike/synth_00001.tif"]
    with pytest.raises(RuntimeError):
        with atomic_entries(out, names, overwrite=True) as part:
            (part / "images").mkdir()
            (part / "images" / "synth_00000.tif").write_text("new")
            raise RuntimeError("a failed run")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "images", "images/mine.tif", "images/synth_00001.tif", "lookalike", "lookalike/synth_00001.tif"]
    with atomic_entries(out, names, overwrite=True) as part:
        (part / "images").mkdir()
        (part / "images" / "synth_00000.tif").write_text("new")
        (part / "scenes.json").write_text("{}")
    # The old run's files went (and the folder they alone filled); the user's stayed.
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "images", "images/mine.tif", "images/synth_00000.tif", "scenes.json"]
    assert _listing(tmp_path) == ["set"]


# -- the outputs of one command together (output_plan) ------------------------------------


def test_output_equal_to_an_input_is_refused_with_or_without_overwrite(tmp_path):
    src = tmp_path / "in.tif"
    src.write_bytes(b"raster")
    (tmp_path / "sub").mkdir()
    os.symlink(src, tmp_path / "link.tif")
    os.link(src, tmp_path / "hard.tif")
    inputs = [InputSource(src, "the input raster")]
    for target in (src, tmp_path / "sub" / ".." / "in.tif", tmp_path / "link.tif", tmp_path / "hard.tif"):
        for overwrite in (False, True):
            with pytest.raises(OutputPathError, match=r"^--out-mask: .* is the input raster.*; give another path$"):
                check_outputs([OutputTarget(target, "--out-mask")], inputs, overwrite=overwrite)
    with pytest.raises(OutputPathError, match=r"^--out-mask: .*in\.tif is the input raster; give another path$"):
        check_outputs([OutputTarget(src, "--out-mask")], inputs, overwrite=True)
    assert src.read_bytes() == b"raster"


def test_sidecars_and_parts_of_outputs_and_inputs_count(tmp_path):
    pred = tmp_path / "pred.tif"
    pred.write_bytes(b"x")
    assert Path(str(pred) + ".aux.xml") in related_files(pred)
    assert (tmp_path / "z.dbf") in related_files(tmp_path / "z.shp")
    inputs = [InputSource(pred, "the prediction")]
    with pytest.raises(OutputPathError, match=r"is the prediction"):
        check_outputs([OutputTarget(Path(str(pred) + ".aux.xml"), "--json")], inputs, overwrite=True)
    # An input named like an output's part would be deleted as a stale part.
    with pytest.raises(OutputPathError, match=r"the part file of"):
        check_outputs([OutputTarget(tmp_path / "m.tif", "--out-mask")], [InputSource(tmp_path / ".m.tif.part", "the input")],
                      overwrite=False)
    # An output whose sidecar is an input.
    with pytest.raises(OutputPathError, match=r"written beside"):
        check_outputs([OutputTarget(tmp_path / "pred", "--out-mask", sidecars=raster_sidecars(tmp_path / "pred"))],
                      [InputSource(tmp_path / "pred.aux.xml", "the class names")], overwrite=True)


def test_inputs_inside_and_around_folders(tmp_path):
    bundle = tmp_path / "b.glnet"
    bundle.mkdir()
    (bundle / "manifest.json").write_text("{}")
    with pytest.raises(OutputPathError, match=r"^--profile: .* is inside the model bundle .*b\.glnet; give another path$"):
        check_outputs([OutputTarget(bundle / "new.json", "--profile")], [InputSource(bundle, "the model bundle")],
                      overwrite=True)
    with pytest.raises(ExportError, match=r"^--out: .*b\.glnet holds the checkpoint .*c\.ckpt; give another path$"):
        check_outputs([OutputTarget(bundle, "--out", kind="folder")], [InputSource(bundle / "c.ckpt", "the checkpoint")],
                      overwrite=True, error=ExportError)
    # Beside an input (same folder) is fine.
    check_outputs([OutputTarget(tmp_path / "m.tif", "--out-mask")], [InputSource(tmp_path / "in.tif", "the input")],
                  overwrite=False)


def test_outputs_are_pairwise_distinct(tmp_path):
    os.symlink(tmp_path, tmp_path / "again")
    a = OutputTarget(tmp_path / "a.tif", "--out-confidence")
    with pytest.raises(OutputPathError, match=r"^--out-confidence and --out-vector both name .*a\.tif; give different file names$"):
        check_distinct([a, OutputTarget(tmp_path / "again" / "a.tif", "--out-vector")])
    with pytest.raises(OutputPathError, match=r"^--out-mask and --profile both name .*m\.tif\.aux\.xml"):
        check_distinct([OutputTarget(tmp_path / "m.tif", "--out-mask", sidecars=raster_sidecars(tmp_path / "m.tif")),
                        OutputTarget(tmp_path / "m.tif.aux.xml", "--profile")])
    with pytest.raises(OutputPathError, match=r"overlap: .* is inside"):
        check_distinct([OutputTarget(tmp_path / "d", "--out", kind="folder"), OutputTarget(tmp_path / "d" / "x", "--json")])
    check_distinct([a, OutputTarget(tmp_path / "b.tif", "--out-mask")])


def test_every_target_and_sidecar_is_checked(tmp_path):
    (tmp_path / "m.tif.aux.xml").write_text("the user's")
    target = OutputTarget(tmp_path / "m.tif", "--out-mask", sidecars=raster_sidecars(tmp_path / "m.tif"))
    with pytest.raises(OutputPathError, match=r"^--out-mask: .*m\.tif\.aux\.xml \(written beside .*\) already exists; pass --overwrite"):
        check_outputs([target], overwrite=False)
    check_outputs([target], overwrite=True)
    os.remove(tmp_path / "m.tif.aux.xml")
    os.mkfifo(tmp_path / "m.tif.aux.xml")
    with pytest.raises(OutputPathError, match=r"not a regular file"):
        check_outputs([target], overwrite=True)
    os.symlink("/dev/null", tmp_path / "null.json")
    with pytest.raises(OutputPathError, match=r"^--profile: .* not a regular file"):
        check_outputs([OutputTarget(tmp_path / "null.json", "--profile")], overwrite=True)
    # A resumed run: no target check, but still no input and no collision.
    check_outputs([target], overwrite=False, check_targets=False)


def test_spec_sources_name_only_existing_files(tmp_path):
    assert spec_sources("deepglobe", "the class table") == []
    assert spec_sources(None, "the class table") == []
    (tmp_path / "t.json").write_text("{}")
    assert [s.path for s in spec_sources(tmp_path / "t.json", "the class table")] == [tmp_path / "t.json"]
