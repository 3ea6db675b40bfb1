"""The server's heap: few glibc arenas however many threads allocate, freed pages handed back."""

import subprocess
import sys

import pytest

from mnist_core.classroom import heap

pytestmark = pytest.mark.skipif(heap._libc() is None, reason="glibc's malloc only")

# Eight threads allocate at once; glibc's malloc_info then lists one <heap> per arena.
THREADS = """
import ctypes, sys, tempfile, threading
from mnist_core.classroom import heap
if sys.argv[1] == "limited":
    heap.limit_arenas(2)
ready = threading.Barrier(8)
def work():
    ready.wait()
    blocks = [bytearray(4096) for _ in range(2000)]
    ready.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(f))
    libc.fclose(ctypes.c_void_p(f))
    print(out.read().count("<heap nr="))
"""


def arenas(mode: str) -> int:
    """How many arenas eight allocating threads leave in a fresh process."""
    run = subprocess.run(
        [sys.executable, "-c", THREADS, mode], capture_output=True, text=True, check=True
    )
    return int(run.stdout)


def test_threads_share_the_limited_arenas():
    assert arenas("default") > 2  # without the limit each thread takes an arena of its own
    assert arenas("limited") <= 2


# 200 MB in small blocks, one in fifty kept: glibc keeps the freed pages between them.
FREED = """
import sys
from mnist_core.classroom import heap
def rss():
    status = open("/proc/self/status").read()
    return next(int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line) // 1024
blocks = [bytearray(4000) for _ in range(50_000)]
kept = blocks[::50]
del blocks
before = rss()
heap.release_freed()
print(before, rss())
"""


def test_freed_pages_go_back_to_the_system():
    run = subprocess.run([sys.executable, "-c", FREED], capture_output=True, text=True, check=True)
    before, after = map(int, run.stdout.split())
    assert before - after > 100  # MB
