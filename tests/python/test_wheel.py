"""`pip install ./python` builds a module that links libfactdb statically: its shared-library needs are
LMDB, xxhash, zstd and the C library only, and it exports nothing but PyInit__factdb."""
import glob
import os
import subprocess
import zipfile

import pytest

from conftest import ASAN, BUILD, PYTHON, ROOT


@pytest.mark.skipif(ASAN, reason="the wheel is the optimized build")
def test_wheel_depends_only_on_lmdb_xxhash_and_zstd(tmp_path):
    env = dict(os.environ, FACTDB_LIB=os.path.join(BUILD, "libfactdb_pic.a"))
    r = subprocess.run([PYTHON, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "-w", str(tmp_path),
                        os.path.join(ROOT, "python")], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = glob.glob(str(tmp_path / "factdb-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        so = [n for n in z.namelist() if n.endswith(".so")]
        assert len(so) == 1 and "factdb/__init__.py" in z.namelist()
        z.extract(so[0], tmp_path)
    path = str(tmp_path / so[0])
    dyn = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    needed = {line.split("[")[1].split("]")[0] for line in dyn.splitlines() if "(NEEDED)" in line}
    assert needed <= {"liblmdb.so.0", "libxxhash.so.0", "libzstd.so.1", "libc.so.6", "libm.so.6", "libpthread.so.0",
                      "ld-linux-x86-64.so.2"}, needed
    syms = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout.split("\n")
    assert [s.split()[-1] for s in syms if " T " in s] == ["PyInit__factdb"]
