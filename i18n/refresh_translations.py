"""Refresh the plugin's translations: ``make translations``.

1. Collect every ``tr("...")`` text, and both texts of every
   ``tr_n(n, "...", "...")``, from the plugin's Python source (plain string
   literals only, as ``glnet_plugin/i18n.py`` requires), and every template
   of the engine's message catalogue (``Entry("...", "...")`` in
   ``glnet_core/messages.py``), with the file and line each comes from.
2. Update ``i18n/glnet_<lang>.ts`` (Qt Linguist format) for every language
   in :data:`LANGUAGES`: existing translations are kept, new texts are added
   as unfinished, texts no longer in the source are marked vanished.
3. Compile each ``.ts`` into ``.qm`` with Qt's ``lrelease`` (Debian:
   ``qttools5-dev-tools``), unless ``--no-compile``.

``--check`` changes nothing and exits 1 when a ``.ts`` file misses a text of
the source or has an unfinished translation. Runs with any Python 3 (no Qt
import).
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

#: Languages besides English (the source language).
LANGUAGES: Tuple[str, ...] = ("de",)

#: The Qt context of every text (glnet_plugin.i18n.CONTEXT).
CONTEXT = "glnet"

I18N_DIR = Path(__file__).resolve().parent
ROOT = I18N_DIR.parent
#: Where the plugin's texts live.
SOURCES = (ROOT / "glnet_plugin",)
#: The engine's message catalogue (its Entry templates are translated too).
CATALOGUE = ROOT / "glnet_core" / "messages.py"


@dataclass
class Message:
    """One text to translate and where the source uses it."""

    source: str
    locations: List[Tuple[str, int]] = field(default_factory=list)


def _call_name(node: ast.Call) -> Optional[str]:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


#: The calls whose literal arguments are texts: name -> (positions of the texts, keyword names of the texts).
_TEXT_CALLS: Dict[str, Tuple[Tuple[int, ...], Tuple[str, ...]]] = {
    "tr": ((0,), ()),
    "tr_n": ((1, 2), ()),
}
#: In the catalogue: Entry(singular, plural=None, count=None).
_ENTRY_CALLS: Dict[str, Tuple[Tuple[int, ...], Tuple[str, ...]]] = {"Entry": ((0, 1), ("singular", "plural"))}


def _texts(path: Path, calls: Dict[str, Tuple[Tuple[int, ...], Tuple[str, ...]]]) -> List[Tuple[str, int]]:
    """``(text, line)`` of every text argument of ``calls`` in ``path``.

    Raises
    ------
    SyntaxError
        When such an argument is not a plain string literal (it could not be
        translated: the extractor cannot see its text), except in the
        helpers of ``glnet_plugin/i18n.py`` and through attribute calls
        (``QCoreApplication.tr``), which take texts from elsewhere.
    """
    rel = path.relative_to(ROOT).as_posix()
    found: List[Tuple[str, int]] = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        name = _call_name(node) if isinstance(node, ast.Call) else None
        if name not in calls:
            continue
        assert isinstance(node, ast.Call)
        positions, keywords = calls[name]
        args = [node.args[i] for i in positions if i < len(node.args)]
        args += [kw.value for kw in node.keywords if kw.arg in keywords]
        for arg in args:
            if isinstance(arg, ast.Constant) and arg.value is None and name == "Entry":
                continue  # an entry without a plural
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                if isinstance(node.func, ast.Name) and path.name != "i18n.py":
                    raise SyntaxError(f"{rel}:{node.lineno}: {name}() needs plain string literals")
                continue
            found.append((arg.value, node.lineno))
    return found


def collect_messages(sources: Sequence[Path] = SOURCES, catalogue: Optional[Path] = CATALOGUE) -> Dict[str, Message]:
    """Every text to translate, in source order.

    The ``tr("literal")`` and ``tr_n(n, "singular", "plural")`` texts of the
    ``.py`` files under ``sources``, and the templates of the ``Entry(...)``
    calls in ``catalogue`` (None: none).

    Raises
    ------
    SyntaxError
        When one of those arguments is not a plain string literal.
    """
    messages: Dict[str, Message] = {}
    found: List[Tuple[Path, List[Tuple[str, int]]]] = [
        (path, _texts(path, _TEXT_CALLS)) for folder in sources for path in sorted(folder.rglob("*.py"))
    ]
    if catalogue is not None:
        found.append((catalogue, _texts(catalogue, _ENTRY_CALLS)))
    for path, texts in found:
        rel = path.relative_to(ROOT).as_posix()
        for text, line in texts:
            messages.setdefault(text, Message(text)).locations.append((rel, line))
    for msg in messages.values():
        msg.locations.sort()
    return dict(sorted(messages.items(), key=lambda kv: kv[1].locations[0]))


def read_ts(path: Path) -> Dict[str, Tuple[str, str]]:
    """``{source: (translation, type)}`` of a ``.ts`` file (type "" when finished)."""
    if not path.is_file():
        return {}
    out = {}
    for msg in ET.parse(path).getroot().iter("message"):
        src = msg.findtext("source") or ""
        tr_el = msg.find("translation")
        out[src] = ((tr_el.text or "") if tr_el is not None else "", tr_el.get("type", "") if tr_el is not None else "")
    return out


def write_ts(path: Path, language: str, messages: Dict[str, Message]) -> Tuple[int, int]:
    """Write the ``.ts`` file for ``language``; return (finished, unfinished) counts."""
    old = read_ts(path)
    ts = ET.Element("TS", version="2.1", language=language, sourcelanguage="en")
    ctx = ET.SubElement(ts, "context")
    ET.SubElement(ctx, "name").text = CONTEXT
    finished = unfinished = 0
    for text, msg in messages.items():
        el = ET.SubElement(ctx, "message")
        for file, line in msg.locations:
            ET.SubElement(el, "location", filename=f"../{file}", line=str(line))
        ET.SubElement(el, "source").text = text
        translation, kind = old.get(text, ("", "unfinished"))
        if kind in ("vanished", "obsolete"):
            kind = "" if translation else "unfinished"
        tr_el = ET.SubElement(el, "translation")
        tr_el.text = translation
        if kind or not translation:
            tr_el.set("type", "unfinished")
            unfinished += 1
        else:
            finished += 1
    for text, (translation, _kind) in old.items():
        if text not in messages and translation:
            el = ET.SubElement(ctx, "message")
            ET.SubElement(el, "source").text = text
            ET.SubElement(el, "translation", type="vanished").text = translation
    ET.indent(ts, space="    ")
    body = ET.tostring(ts, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n", encoding="utf-8")
    return finished, unfinished


def compile_qm(ts_path: Path, lrelease: Optional[str] = None) -> Path:
    """Compile ``ts_path`` into the ``.qm`` beside it with ``lrelease``."""
    tool = lrelease or shutil.which("lrelease") or shutil.which("lrelease-qt5")
    if tool is None:
        raise FileNotFoundError("lrelease not found (Debian/Ubuntu: apt-get install qttools5-dev-tools)")
    qm = ts_path.with_suffix(".qm")
    subprocess.run([tool, "-silent", str(ts_path), "-qm", str(qm)], check=True)
    return qm


def problems(messages: Dict[str, Message], languages: Sequence[str] = LANGUAGES) -> List[str]:
    """What is missing or unfinished in the ``.ts`` files (empty: all up to date)."""
    out = []
    for lang in languages:
        path = I18N_DIR / f"glnet_{lang}.ts"
        ts = read_ts(path)
        for text in messages:
            if text not in ts:
                out.append(f"{path.name}: missing {text[:60]!r}")
            elif ts[text][1] or not ts[text][0]:
                out.append(f"{path.name}: unfinished {text[:60]!r}")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a translation is missing")
    parser.add_argument("--no-compile", action="store_true", help="update the .ts files only")
    args = parser.parse_args(argv)
    messages = collect_messages()
    if args.check:
        found = problems(messages)
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    for lang in LANGUAGES:
        ts_path = I18N_DIR / f"glnet_{lang}.ts"
        done, todo = write_ts(ts_path, lang, messages)
        line = f"{ts_path.name}: {done} translated, {todo} unfinished"
        if not args.no_compile:
            line += f" -> {compile_qm(ts_path).name}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
