"""Checking rewrites against the real runtimes: LiteRT, the TFLM wheel, the Cortex-M firmware."""
