"""The inference engine: model bundles, inference modes, windows and patches,
the ONNX subgraph chain and :func:`.segment.segment`, its one entry point.

Uses :mod:`..formats` and :mod:`..geo`; never a product or the command line.
"""
