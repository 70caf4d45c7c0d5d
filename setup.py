"""The compiled parts; everything else about the package is in pyproject.toml.

consumer._features is consumer.features.update in C, consumer._decode walks the common Twitter v1.1
tweet in C (see consumer/_decode.c), consumer._score computes feature rows and linear scores of many
accounts at once (see consumer/scoring.py), consumer._fold folds runs of common tweets into the detector
(Detector.process's fast path), consumer._pipeline runs the head of the default model's pipeline on a feature
dict (see consumer/model.py), consumer._changelog encodes and produces a checkpoint's account records (see
consumer/state.py), and consumer._drift is the drift checks' two-sample KS statistic (see
consumer/drift.py). Without them consumer.features, consumer.decode, consumer.detector, consumer.model and
consumer.state run their Python definitions alone and consumer.scoring and consumer.drift run numpy
(``COMPILED``, ``drift.KS_COMPILED`` are then False). -ffp-contract=off keeps a*b+c two roundings, as Python
computes it, on CPUs with FMA.
"""

from setuptools import Extension, setup

EXTENSIONS = [
    Extension("consumer._features", ["consumer/_features.c"], depends=["consumer/_layout.h", "consumer/_common.h"],
              libraries=["z"], extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._decode", ["consumer/_decode.c"], extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._score", ["consumer/_score.c"],
              depends=["consumer/_buffer.h", "consumer/_common.h", "consumer/_layout.h"],
              libraries=["m"], extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._drift", ["consumer/_drift.c"], depends=["consumer/_buffer.h"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._fold", ["consumer/_fold.c"], depends=["consumer/_common.h"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._pipeline", ["consumer/_pipeline.c"], libraries=["m"],
              extra_compile_args=["-O2", "-ffp-contract=off"]),
    Extension("consumer._changelog", ["consumer/_changelog.c"], extra_compile_args=["-O2"]),
]

setup(ext_modules=EXTENSIONS)
