"""Runs a function in a forked child with an address-space limit and a timeout.

A hostile file must fail with a clean exception: not a crash (the child dies of a signal), not a
hang (the timeout), not a huge allocation (``RLIMIT_AS`` turns one into a ``MemoryError``). Each
run reports how the function ended and the peak memory it allocated: tracemalloc's peak, which
counts Python's objects and NumPy's array data. (The child's resident-set high water mark, also
reported, depends on the heap it inherits: late in a full test run, a load that takes 7 MiB was
measured at 26 MiB of resident set.)

Forking keeps a run at a few milliseconds: the child starts with ember and NumPy already
imported. The limit is the child's address space at the fork plus ``budget`` bytes, so whatever
the parent had mapped (torch, if an earlier test imported it) does not count.
"""
import dataclasses
import os
import pickle
import resource
import select
import signal
import time
import tracemalloc

MB = 1 << 20


@dataclasses.dataclass
class Outcome:
    error: str | None  # the exception's qualified type name, None if the call returned
    bases: list  # the qualified names of that type and its bases
    message: str
    value: object  # what the call returned (if picklable), else its repr
    peak: int  # bytes: the peak of what the call allocated (tracemalloc)
    seconds: float
    rss_peak: int = 0  # bytes: the child's peak resident set minus its resident set at start

    def raised(self, name: str) -> bool:
        """Whether the call raised an exception of the type (or a subclass of) ``name``."""
        return name in self.bases


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _child(fn, args, budget: int) -> dict:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _status("VmSize") + budget
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
    except OSError:
        pass
    start_rss = _status("VmRSS")
    tracemalloc.start()
    t0 = time.perf_counter()
    out = {"error": None, "bases": [], "message": "", "value": None}
    try:
        value = fn(*args)
        try:
            out["value"] = pickle.loads(pickle.dumps(value))
        except Exception:
            out["value"] = repr(value)[:2000]
    except BaseException as e:  # MemoryError and RecursionError included: the test judges
        out.update(error=_qualname(type(e)), bases=[_qualname(c) for c in type(e).__mro__],
                   message=str(e)[:4000])
    out["seconds"] = time.perf_counter() - t0
    out["peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out["rss_peak"] = max(0, _status("VmHWM") - start_rss)
    return out


def run_confined(fn, *args, budget: int = 256 * MB, timeout: float = 60.0) -> Outcome:
    """Runs ``fn(*args)`` in a forked child limited to ``budget`` more bytes of address space.

    Raises:
        AssertionError: the child died of a signal (a crash), or ran past ``timeout`` seconds
            (it is killed), or sent nothing back.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(r)
            data = pickle.dumps(_child(fn, args, budget))
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"{getattr(fn, '__name__', fn)} ran past {timeout} s")
            ready, _, _ = select.select([r], [], [], left)
            if ready:
                chunk = os.read(r, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise AssertionError(f"{getattr(fn, '__name__', fn)} crashed the process: signal "
                             f"{signal.Signals(os.WTERMSIG(status)).name}")
    if not chunks:
        raise AssertionError(f"the child running {fn} sent nothing back (exit status "
                             f"{os.WEXITSTATUS(status)})")
    return Outcome(**pickle.loads(b"".join(chunks)))
