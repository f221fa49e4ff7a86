"""The one thing pyproject.toml cannot say in a stable way: the compiled fast path of the TCP
analysis (reporter/analyses/fastpath.py), an optional C extension. Without a C compiler and
Python's headers the build skips it and the pure-Python analysis does everything, as fast as
before the fast path existed; the project's metadata is all in pyproject.toml."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("reporter.analyses._fasttcp", ["reporter/analyses/_fasttcp.c"],
                             extra_compile_args=["-O2"], optional=True)])
