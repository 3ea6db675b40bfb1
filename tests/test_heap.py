"""The server's heap: few glibc arenas however many threads allocate, freed pages handed back."""

import subprocess
import sys
import threading

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


# Runs that each free 45 MB, as a training does, while the page threads of a Streamlit server
# hold the arenas they took; one run after another, each on a new thread or on heap's workers.
RUNS = """
import sys, threading
from mnist_core.classroom import heap
def rss():
    status = open("/proc/self/status").read()
    return next(int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line) // 1024
ready = threading.Barrier(8)
def page():
    ready.wait()
    block = bytearray(1000)
    ready.wait()
pages = [threading.Thread(target=page) for _ in range(8)]
for t in pages: t.start()
for t in pages: t.join()
heap.limit_arenas()  # too late for the arenas those threads took, as in the server
big = bytearray(31 << 20)  # once freed, glibc serves blocks up to 31 MB from arenas
del big
def training():
    blocks = [bytearray(9 << 20) for _ in range(5)]
    del blocks
if sys.argv[1] == "workers":
    run = lambda: heap.run_on_worker(training)
else:
    run = training
held, after = [], []
for _ in range(6):
    shown = threading.Event()  # a page shows the run meanwhile, on a thread of its own
    threading.Thread(target=lambda: (bytearray(1000), shown.wait()), daemon=True).start()
    held.append(shown)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    heap.release_freed()
    after.append(rss())
print(after[0], after[-1])
for shown in held: shown.set()
"""


def growth(mode: str) -> int:
    """MB the process grew between the first and the last of six runs."""
    run = subprocess.run(
        [sys.executable, "-c", RUNS, mode], capture_output=True, text=True, check=True
    )
    first, last = map(int, run.stdout.split())
    return last - first


def test_runs_on_the_workers_hold_their_freed_memory_once():
    assert growth("threads") > 80  # each new thread's arena kept the run's freed 45 MB
    assert growth("workers") < 15


def test_work_one_after_another_goes_to_one_long_lived_thread():
    ran_on, results = [], []

    def work(n: int) -> int:
        ran_on.append(threading.current_thread())
        return n * 2

    for n in range(3):  # from a new thread each time, as each training job has its own
        caller = threading.Thread(
            target=lambda n=n: results.append(heap.run_on_worker(lambda: work(n)))
        )
        caller.start()
        caller.join()
    assert results == [0, 2, 4]
    assert ran_on[0] is ran_on[1] is ran_on[2] and ran_on[0].is_alive()


def test_work_at_the_same_time_gets_a_worker_each_and_errors_reach_the_caller():
    both = threading.Barrier(2, timeout=10)  # broken if the two never run at once
    errors = []

    def meet():
        try:
            heap.run_on_worker(both.wait)
        except threading.BrokenBarrierError as err:
            errors.append(err)

    callers = [threading.Thread(target=meet) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert errors == []
    with pytest.raises(ZeroDivisionError):
        heap.run_on_worker(lambda: 1 / 0)
    assert heap.run_on_worker(lambda: "still serving") == "still serving"


def test_a_worker_lets_go_of_its_work_and_result_once_done():
    """An idle worker holding its last result would keep a dropped run's model alive."""
    import gc
    import weakref

    class Model:
        pass

    def train() -> Model:
        return Model()

    result = weakref.ref(heap.run_on_worker(train))
    gc.collect()
    assert result() is None
