"""The plugin's ``metadata.txt``: its fields, and which addresses are still placeholders.

Three places need this and share it: the archive build (a release refuses
placeholder addresses, :mod:`glnet_plugin.plugin_zip`), the algorithms' help
link and the dependency message (:func:`readme_url`: the README inside the
plugin folder until the project has a public homepage). Standard library
only: the build runs it with any Python 3, and QGIS imports it before the
plugin's dependencies are checked.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Dict, List, Mapping
from urllib.parse import urlsplit

__all__ = ["PLUGIN_ROOT", "read_metadata", "placeholder_fields", "readme_url"]

#: The plugin folder (the checkout's root, or glnet/ of an installed zip).
PLUGIN_ROOT = Path(__file__).resolve().parent.parent

#: Fields that hold the project's public addresses, placeholders until it has a home.
_ADDRESS_FIELDS = ("email", "tracker", "repository", "homepage")
# Hosts that are never a public home: RFC 2606 example domains and reserved
# names, and this machine.
_PLACEHOLDER_HOSTS = ("example.org", "example.com", "example.net", "localhost")
_PLACEHOLDER_SUFFIXES = (".example", ".invalid", ".test", ".localhost")


def read_metadata(text: str) -> Dict[str, str]:
    """The ``[general]`` section of a ``metadata.txt``, field names as written.

    Parameters
    ----------
    text:
        The file's content.

    Returns
    -------
    dict
        Field name to value, stripped of surrounding blanks.

    Raises
    ------
    ValueError
        When the text is not an INI file or has no ``[general]`` section (one line).
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep qgisMinimumVersion's capitals
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ValueError(" ".join(str(exc).split())) from None
    if not parser.has_section("general"):
        raise ValueError("no [general] section")
    return {key: value.strip() for key, value in parser.items("general")}


def _is_placeholder_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if not host or "." not in host:  # "http://bugs", "http://repo": the plugin builder's template
        return True
    if host.startswith("127.") or host in ("::1", "[::1]"):
        return True
    return any(host == h or host.endswith("." + h) for h in _PLACEHOLDER_HOSTS) or host.endswith(_PLACEHOLDER_SUFFIXES)


def placeholder_fields(metadata: Mapping[str, str]) -> List[str]:
    """The address fields (``email``, ``tracker``, ``repository``, ``homepage``) that are placeholders.

    A value counts as a placeholder when it is missing or empty, or its host
    (the e-mail domain, or the URL's host) is an example domain
    (``example.org``, ``.com``, ``.net`` and their subdomains, the reserved
    ``.example``, ``.invalid``, ``.test``), ``localhost``, a loopback address,
    or a name without a dot (the plugin builder's ``http://bugs``).

    Parameters
    ----------
    metadata:
        Fields as :func:`read_metadata` returns them.

    Returns
    -------
    list of str
        Field names, in the order above; empty when every address is real.
    """
    found = []
    for field in _ADDRESS_FIELDS:
        value = metadata.get(field, "").strip()
        if field == "email":
            host = value.rpartition("@")[2] if "@" in value else ""
        else:
            try:
                host = urlsplit(value).hostname or ""
            except ValueError:
                host = ""
        if _is_placeholder_host(host):
            found.append(field)
    return found


def readme_url(anchor: str = "") -> str:
    """Where users read the whole story: the homepage, or the README shipped in the plugin folder.

    Parameters
    ----------
    anchor:
        A README section (``"qgis-plugin"``), appended as ``#anchor``.

    Returns
    -------
    str
        ``metadata.txt``'s homepage when it is a real address
        (:func:`placeholder_fields`); otherwise the ``file://`` URL of the
        plugin folder's ``README.md`` (the plugin zip ships it), so a help
        link never leads to a page that does not exist.
    """
    try:
        metadata = read_metadata((PLUGIN_ROOT / "metadata.txt").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        metadata = {}
    if metadata and "homepage" not in placeholder_fields(metadata):
        url = metadata["homepage"]
    else:
        url = (PLUGIN_ROOT / "README.md").as_uri()
    return f"{url}#{anchor}" if anchor else url
