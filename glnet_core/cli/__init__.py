"""The ``glnet`` command line: the registry and entry point (:mod:`.main`), one module per command.

Command modules import torch, onnx or onnxruntime only inside ``run``, so
``glnet --help`` works without the extras.
"""
