"""The QGIS side of glnet: the plugin object and (later) its Processing provider.

Only QGIS imports this package, through :func:`glnet.classFactory`. The
Processing provider and algorithms come in a later issue; today the plugin
loads and unloads cleanly and registers nothing.
"""
