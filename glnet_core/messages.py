"""The catalogue of the engine's user-facing log lines, and the one rule that picks a plural form.

Every line glnet_core passes to :attr:`glnet_core.callbacks.Callbacks.log`
is a :class:`LogLine`: an :class:`Entry` of this catalogue with its values.
A :class:`LogLine` *is* a ``str`` holding the English line, so the command
line prints it unchanged and every log hook typed ``Callable[[str], None]``
keeps working; the QGIS plugin renders the same entry through Qt's
translations instead (``glnet_plugin.i18n.translate_line``).

Plural forms come in pairs: an :class:`Entry` with a ``plural`` template
names the value (``count``) that chooses between its two templates by
:func:`plural_form`. That is right for English and German (one form for 1,
another for every other number); ``i18n/README.md`` says what a language
with more plural forms needs.

``i18n/refresh_translations.py`` collects the templates of this module by
reading its source for ``Entry("...", "...")`` calls, so every template must
be a plain string literal in such a call.

This module imports only the standard library: the plugin imports it even
where glnet_core's dependencies are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = [
    "Entry",
    "LogLine",
    "plural_form",
    "CATALOGUE",
    "RESAMPLING",
    "GROUND_CONTROL_POINTS",
    "NOT_GEOREFERENCED",
    "RESUMING",
    "DASK_CLUSTER",
    "WORKERS",
    "HOSTS",
    "PROVIDERS",
    "MINIMUM_MAPPING_UNIT",
    "WARNING",
    "POLYGONS_WRITTEN",
    "NO_CLASS_NAMES",
    "UNNAMED_CLASS_IDS",
]

#: ``translate(template) -> template``: what a user interface passes to render a line in its language.
Translate = Callable[[str], str]


def plural_form(count: int, singular: str, plural: str) -> str:
    """``singular`` when ``count`` is 1, else ``plural`` (the rule of English and German).

    The one place that rule lives: the catalogue's entries and the plugin's
    own plural texts (``glnet_plugin.i18n.tr_n``) both choose through it.
    """
    return singular if abs(int(count)) == 1 else plural


@dataclass(frozen=True)
class Entry:
    """One user-facing log line: English templates with ``{name}`` placeholders (``str.format``).

    Attributes
    ----------
    singular:
        The template (the one for a count of 1 when ``plural`` is given).
    plural:
        The template for every other count, or None (no count in the line).
    count:
        The value that chooses the template (required with ``plural``).
    """

    singular: str
    plural: Optional[str] = None
    count: Optional[str] = None

    def __post_init__(self) -> None:
        if (self.plural is None) != (self.count is None):
            raise ValueError("an Entry needs both plural and count, or neither")

    @property
    def templates(self) -> Tuple[str, ...]:
        """The entry's templates (what a translation file must translate)."""
        return (self.singular,) if self.plural is None else (self.singular, self.plural)

    def template(self, values: Dict[str, Any]) -> str:
        """The English template for ``values`` (the plural form chosen by the ``count`` value)."""
        if self.plural is None or self.count is None:
            return self.singular
        return plural_form(int(values[self.count]), self.singular, self.plural)

    def __call__(self, **values: Any) -> "LogLine":
        """This entry with ``values``, as the line the engine logs.

        Raises
        ------
        KeyError
            When a placeholder of the template has no value (a bug of the caller).
        """
        return LogLine(self, values)


class LogLine(str):
    """A log line of the catalogue: the English text (as a ``str``), its :attr:`entry` and :attr:`values`.

    Parameters
    ----------
    entry:
        The catalogue's :class:`Entry`.
    values:
        Its placeholders' values; a value may itself be a :class:`LogLine`
        (rendered in the same language).
    """

    entry: Entry
    values: Dict[str, Any]

    def __new__(cls, entry: Entry, values: Dict[str, Any]) -> "LogLine":
        line = super().__new__(cls, _render(entry, values, None))
        line.entry = entry
        line.values = dict(values)
        return line

    def __reduce__(self) -> Tuple[Any, ...]:
        # str's own pickling would call __new__ with the text alone.
        return (LogLine, (self.entry, self.values))

    def render(self, translate: Optional[Translate] = None) -> str:
        """The line in the language of ``translate`` (None: English, the same as ``str(self)``)."""
        return _render(self.entry, self.values, translate)


def _render(entry: Entry, values: Dict[str, Any], translate: Optional[Translate]) -> str:
    template = entry.template(values)
    if translate is not None:
        template = translate(template)
    shown = {k: v.render(translate) if isinstance(v, LogLine) else v for k, v in values.items()}
    return template.format(**shown)


# The catalogue. Keep every template a plain literal inside Entry(...):
# refresh_translations.py reads them from this source.

#: segment: the raster runs on the model's pixel grid.
RESAMPLING = Entry("resampling to the model's {resolution:g} m/px: raster {width} x {height} px runs as "
                   "{model_width} x {model_height} px")
#: segment: an input georeferenced by GCPs.
GROUND_CONTROL_POINTS = Entry(
    "{path} is georeferenced by {count} ground control point: the outputs keep it (and its CRS), on the "
    "input's pixel grid",
    "{path} is georeferenced by {count} ground control points: the outputs keep them (and their CRS), on the "
    "input's pixel grid",
    count="count")
#: segment: an input without any georeferencing.
NOT_GEOREFERENCED = Entry("{path} is not georeferenced (no CRS, geotransform or ground control points): the outputs "
                          "are not georeferenced either")
#: segment --resume.
RESUMING = Entry("resuming: {done} of {total} window already done", "resuming: {done} of {total} windows already done",
                 count="total")
#: segment --dask: the cluster; ``workers`` and ``hosts`` are :data:`WORKERS` and :data:`HOSTS` lines.
DASK_CLUSTER = Entry("Dask cluster {address}: {workers} on {hosts}")
#: A number of Dask workers (a part of :data:`DASK_CLUSTER`).
WORKERS = Entry("{count} worker", "{count} workers", count="count")
#: A number of hosts (a part of :data:`DASK_CLUSTER`).
HOSTS = Entry("{count} host", "{count} hosts", count="count")
#: segment: the onnxruntime execution providers that run the model (comma-separated names).
PROVIDERS = Entry("onnxruntime providers: {providers}")
#: segment --min-area: the sieve.
MINIMUM_MAPPING_UNIT = Entry("minimum mapping unit {area:g} m2: regions under {pixels} px merged into their neighbours")
#: A warning of a later step (its text is a :class:`LogLine` or plain English).
WARNING = Entry("warning: {warning}")
#: segment --out-vector, vectorize: the polygons written.
POLYGONS_WRITTEN = Entry("{count} polygon written to {path}", "{count} polygons written to {path}", count="count")
#: vectorize: a mask without class names.
NO_CLASS_NAMES = Entry("{mask} has no class names (no category names in {sidecar}); using class_<id>; pass --model "
                       "BUNDLE for the model's names")
#: vectorize: class ids that occur but have no name (``ids``: comma-separated).
UNNAMED_CLASS_IDS = Entry("class id {ids} has no name; using class_<id>",
                          "class ids {ids} have no name; using class_<id>", count="count")

#: Every entry, by its name in this module.
CATALOGUE: Dict[str, Entry] = {name: value for name, value in list(globals().items()) if isinstance(value, Entry)}
