"""The compiled parts; everything else about the package is in pyproject.toml.

consumer._features is consumer.features.update in C, and consumer._decode walks the common Twitter v1.1
tweet in C (see consumer/_decode.c). Without them consumer.features and consumer.decode run their Python
definitions alone (``features.COMPILED`` / ``decode.COMPILED`` are then False). -ffp-contract=off keeps
a*b+c two roundings, as Python computes it, on CPUs with FMA.
"""

from setuptools import Extension, setup

EXTENSIONS = [
    Extension("consumer._features", ["consumer/_features.c"], libraries=["z"], depends=["consumer/_common.h"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._decode", ["consumer/_decode.c"], extra_compile_args=["-O2", "-ffp-contract=off"]),
]

setup(ext_modules=EXTENSIONS)
