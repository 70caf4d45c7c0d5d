"""C extensions; everything else about the package is in pyproject.toml.

``consumer._decode`` decodes the common Twitter v1.1 tweet (see consumer/_decode.c);
without it, consumer.decode runs its Python path alone (``decode.COMPILED`` is False).
"""

from setuptools import Extension, setup

EXTENSIONS = [Extension("consumer._decode", ["consumer/_decode.c"], extra_compile_args=["-O2"])]

setup(ext_modules=EXTENSIONS)
