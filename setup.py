"""The compiled parts; everything else about the package is in pyproject.toml.

consumer._features is consumer.features.update in C (consumer/features.py falls back to the Python update
when it is not built). -ffp-contract=off keeps a*b+c two roundings, as Python computes it, on CPUs with FMA.
"""

from setuptools import Extension, setup

EXTENSIONS = [
    Extension("consumer._features", ["consumer/_features.c"], libraries=["z"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
]

setup(ext_modules=EXTENSIONS)
