"""Builds the factdb extension against the repository's library, linked statically (libfactdb_pic.a,
position-independent objects of src/), so the module needs only LMDB, xxhash and zstd at run time. The library
is built with `make` in the repository root (the parent of python/) unless FACTDB_LIB names it."""
import os
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("FACTDB_BUILD", "build")
LIB = os.environ.get("FACTDB_LIB") or os.path.join(ROOT, BUILD, "libfactdb_pic.a")

if not os.environ.get("FACTDB_LIB"):
    subprocess.check_call(["make", "-s", "-C", ROOT, os.path.join(BUILD, "libfactdb_pic.a")])

# -fvisibility=hidden: the module exports only PyInit__factdb, never the library's or its own symbols
cflags = ["-fvisibility=hidden", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
          "-Wno-cast-function-type"]
extra = os.environ.get("FACTDB_PY_CFLAGS", "").split()

setup(
    ext_modules=[
        Extension(
            "factdb._factdb",
            sources=["factdb/module.c", "factdb/values.c", "factdb/cursor.c", "factdb/append.c"],
            include_dirs=[os.path.join(ROOT, "include"), os.path.join(ROOT, "src")],
            extra_compile_args=cflags + extra,
            extra_objects=[LIB],
            # the library's symbols stay inside the module: none can interpose on (or be interposed by) the
            # interpreter's or another extension's
            extra_link_args=["-Wl,--exclude-libs,ALL"] + extra,
            libraries=["lmdb", "xxhash", "zstd", "pthread", "m"],
            depends=[LIB, os.path.join(ROOT, "include", "factdb.h"), "factdb/pyfactdb.h"],
        )
    ],
)
