"""The compiled parts; everything else about the package is in pyproject.toml.

consumer._features is consumer.features.update in C, consumer._decode walks the common Twitter v1.1
tweet in C (see consumer/_decode.c), and consumer._fold folds runs of common tweets into the detector
(Detector.process's fast path). Without them consumer.features, consumer.decode and consumer.detector run
their Python definitions alone (``features.COMPILED`` / ``decode.COMPILED`` / ``detector.COMPILED`` are
then False). -ffp-contract=off keeps a*b+c two roundings, as Python computes it, on CPUs with FMA.
"""

from setuptools import Extension, setup

EXTENSIONS = [
    Extension("consumer._features", ["consumer/_features.c"], libraries=["z"], depends=["consumer/_common.h"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._decode", ["consumer/_decode.c"], extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._fold", ["consumer/_fold.c"], depends=["consumer/_common.h"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
]

setup(ext_modules=EXTENSIONS)
