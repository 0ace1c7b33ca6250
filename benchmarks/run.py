"""``make bench``: ember and torch side by side, each (workload, framework) in a fresh process.

    python benchmarks/run.py [--only NAME ...] [--quick] [--tiny] [--frameworks ember [torch]]
    python benchmarks/run.py --ddp [--steps 5] [--batch 32]   # data-parallel mode (ddp.py)

Prints a table and writes benchmarks/results/latest.json. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, sys.path[0] is benchmarks/ itself
    sys.path.insert(0, str(ROOT))

from benchmarks.worker import MARKER  # noqa: E402  (stdlib only at import time)
from benchmarks.workloads import WORKLOADS  # noqa: E402

FRAMEWORKS = ("ember", "torch")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# set on some machines, these force a slow OpenBLAS kernel; dropped for the measured children only
SLOW_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# with it set, the warm-up child cannot write .pyc files, so every timed import recompiles the
# sources changed since the last cache (100+ ms): the import workload would measure the compiler
NO_PYC_VAR = "PYTHONDONTWRITEBYTECODE"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "latest.json"


# -- environment and machine ---------------------------------------------------------------------


def child_env(threads: int) -> tuple[dict[str, str], dict[str, str]]:
    """The measured children's environment, and the variables it removed (with their values)."""
    env = dict(os.environ)
    removed = {k: env.pop(k) for k in SLOW_BLAS_VARS + (NO_PYC_VAR,) if k in env}
    for k in THREAD_VARS:
        env[k] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env, removed


def cpu_info() -> dict[str, Any]:
    """The CPU model and its SIMD flags (what BLAS kernels key on) from /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    simd = [x for x in fields.get("flags", "").split()
            if x in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")]
    return {"cpu_model": fields.get("model name") or platform.processor() or platform.machine(),
            "cpu_family": fields.get("cpu family"), "cpu_model_number": fields.get("model"),
            "cpu_simd": simd}


def git_commit() -> str | None:
    """The checked-out commit, read from .git without running git (best effort)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def machine_info(threads: int) -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        **cpu_info(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "threads": threads,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "loadavg_start": _loadavg(),
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# -- running the children ------------------------------------------------------------------------


def run_worker(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Runs ``python -m benchmarks.worker ARGS`` and returns its result (or an error result)."""
    cmd = [sys.executable, "-m", "benchmarks.worker", *args]
    try:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {timeout:.0f} s", "where": ""}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    # no result line: the child died (crash, kill, import failure of the harness itself)
    tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return {"status": "error", "error": f"worker died (exit {proc.returncode}): {tail}",
            "where": "", "traceback": proc.stderr[-4000:]}


def best_round(prev: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Of two rounds' results for one pair, the one with the lower median (an error loses, and
    is kept only when no round succeeded); ``round_medians_s`` lists every round's median."""
    if prev is None:
        if new.get("status") == "ok":
            new["round_medians_s"] = [new["median_s"]]
        return new
    if new.get("status") != "ok":
        return prev
    if prev.get("status") != "ok":
        new["round_medians_s"] = [new["median_s"]]
        return new
    medians = [*prev["round_medians_s"], new["median_s"]]
    best = new if new["median_s"] < prev["median_s"] else prev
    best["round_medians_s"] = medians
    return best


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Per-pair timing settings; --quick trades precision for a fast smoke run. ``budget`` is the
    default; a workload registered with its own budget gets that in a full run."""
    s = {"budget": 0.3, "repeats": 5, "min_runs": 2, "gemm_budget": 0.3, "gemm_min_runs": 1} \
        if args.quick else \
        {"budget": 1.5, "repeats": 15, "min_runs": 3, "gemm_budget": 1.5, "gemm_min_runs": 3}
    if args.budget is not None:
        s["budget"] = args.budget
    if args.no_gemm:
        s["gemm_budget"] = 0.0
    s["tiny"] = args.tiny
    s["rounds"] = args.rounds
    return s


def workload_budget(name: str, s: dict[str, Any], args: argparse.Namespace) -> float:
    """--budget wins; else a full run gives a slow workload its own (larger) budget."""
    own = WORKLOADS[name].budget
    if args.budget is not None or args.quick or own is None:
        return s["budget"]
    return own


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    path = path.resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the table -----------------------------------------------------------------------------------


def pick_unit(row: dict[str, Any]) -> str:
    unit = WORKLOADS[row["workload"]].unit
    if unit:
        return unit
    medians = [row[f]["median_s"] for f in FRAMEWORKS if row[f].get("status") == "ok"]
    return "us" if medians and max(medians) < 1e-3 else "ms"


def fmt_time(seconds: float, unit: str) -> str:
    x = seconds * (1e6 if unit == "us" else 1e3)
    digits = 0 if x >= 100 else 1 if x >= 10 else 2
    return f"{x:.{digits}f} {'µs' if unit == 'us' else 'ms'}"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def ratio(row: dict[str, Any]) -> float | None:
    e, t = row.get("ember", {}), row.get("torch", {})
    if e.get("status") == "ok" and t.get("status") == "ok" and t["median_s"] > 0:
        return e["median_s"] / t["median_s"]
    return None


def render_table(rows: list[dict[str, Any]]) -> str:
    header = ["workload", "ember median", "ember min", "torch median", "torch min",
              "ratio e/t", "ember peak RSS", "torch peak RSS"]
    lines: list[list[str]] = []
    notes: dict[int, list[str]] = {}
    for i, row in enumerate(rows):
        unit = pick_unit(row)
        cells = {}
        for f in FRAMEWORKS:
            r = row[f]
            if r.get("status") == "ok":
                cells[f] = (fmt_time(r["median_s"], unit), fmt_time(r["min_s"], unit),
                            f"{r['peak_rss_kib'] / 1024:.0f} MiB")
            elif r.get("status") == "missing":
                cells[f] = (r["error"], "", "")
            elif r.get("status") == "skipped":
                cells[f] = ("skipped", "", "")
            else:
                cells[f] = ("error", "", "")
                where = f" ({r['where']})" if r.get("where") else ""
                notes.setdefault(i, []).append(f"{f}: error: {r.get('error', '?')}{where}")
        lines.append([row["workload"], cells["ember"][0], cells["ember"][1], cells["torch"][0],
                      cells["torch"][1], fmt_ratio(row.get("ratio")), cells["ember"][2],
                      cells["torch"][2]])
    widths = [max(len(h), *(len(ln[c]) for ln in lines)) for c, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        # the workload name left-aligned, figures right-aligned so their digits line up
        return " | ".join(c.ljust(w) if j == 0 else c.rjust(w)
                          for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [fmt(header), "-+-".join("-" * w for w in widths)]
    for i, ln in enumerate(lines):
        out.append(fmt(ln))
        for note in notes.get(i, []):
            out.append("    ↳ " + (note if len(note) <= 140 else note[:137] + "..."))
    return "\n".join(out)


def add_throughput(row: dict[str, Any], gemm_gflops: float | None) -> None:
    """Moves the step's FLOP count up to the row and adds each framework's achieved GFLOP/s and
    its fraction of numpy's GEMM figure."""
    for f in FRAMEWORKS:
        r = row[f]
        if r.get("status") != "ok" or not r.get("flops"):
            continue
        row.setdefault("flops_per_step", r["flops"])
        row.setdefault("flops_note", r.get("flops_note"))
        r["gflops"] = r["flops"] / r["median_s"] / 1e9
        r["gemm_fraction"] = r["gflops"] / gemm_gflops if gemm_gflops else None


def render_throughput(rows: list[dict[str, Any]], gemm_gflops: float | None) -> str:
    """For the workloads that count their FLOPs: achieved GFLOP/s (median) and % of the GEMM."""
    rows = [r for r in rows if r.get("flops_per_step")]
    if not rows:
        return ""
    ref = (f"numpy's GEMM, {gemm_gflops:.0f} GFLOP/s" if gemm_gflops
           else "the GEMM (not measured)")
    header = ["workload", "GFLOP/step", "ember GFLOP/s", "torch GFLOP/s", "counted"]
    lines = []
    for row in rows:
        cells = []
        for f in FRAMEWORKS:
            r = row[f]
            if "gflops" not in r:
                cells.append("—")
            elif r.get("gemm_fraction") is None:
                cells.append(f"{r['gflops']:.1f}")
            else:
                cells.append(f"{r['gflops']:.1f} ({100 * r['gemm_fraction']:.0f}%)")
        lines.append([row["workload"], f"{row['flops_per_step'] / 1e9:.3g}", *cells,
                      row.get("flops_note") or ""])
    widths = [max(len(h), *(len(ln[c]) for ln in lines)) for c, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return " | ".join(c.ljust(w) if j in (0, 4) else c.rjust(w)
                          for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [f"achieved throughput (median time; % of {ref}; a multiply-add is 2 FLOPs, only conv "
           f"and linear layers counted):", fmt(header), "-+-".join("-" * w for w in widths)]
    out += [fmt(ln) for ln in lines]
    return "\n".join(out)


def render_header(result: dict[str, Any]) -> str:
    m, info = result["machine"], result["versions"]
    gemm = result.get("numpy_gemm")
    lines = [
        f"machine: {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['threads']} threads for both frameworks; SIMD {' '.join(m['cpu_simd']) or '?'}; "
        f"load avg {m['loadavg_start']} -> {m['loadavg_end']}",
        f"python {info.get('python')}, numpy {info.get('numpy')}, ember {info.get('ember')}, "
        f"torch {info.get('torch') or ('not installed' if 'torch_error' in info else 'not run')}",
        f"numpy BLAS: {result['blas'].get('summary', 'unknown')} "
        f"[via {result['blas'].get('source', '?')}]",
    ]
    removed = result["env"]["removed"]
    lines.append("removed from the children's env: " + (
        ", ".join(f"{k}={v}" for k, v in removed.items()) if removed else "none (not set)"))
    if gemm and "gflops_median" in gemm:
        lines.append(f"numpy float32 GEMM {gemm['n']}x{gemm['n']}: {gemm['gflops_median']:.1f} "
                     f"GFLOP/s median, {gemm['gflops_best']:.1f} best ({gemm['runs']} runs)")
    elif gemm:
        lines.append(f"numpy GEMM: error: {gemm.get('error')}")
    end = result.get("numpy_gemm_end")
    if end and "gflops_median" in end:
        lines.append(f"numpy float32 GEMM again after the workloads: {end['gflops_median']:.1f} "
                     f"GFLOP/s median, {end['gflops_best']:.1f} best ({end['runs']} runs)")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="ember vs torch benchmarks (see benchmarks/README.md)")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(WORKLOADS),
                   help=f"workloads to run (default: all of {', '.join(WORKLOADS)})")
    p.add_argument("--quick", action="store_true", help="fewer repeats: a smoke test")
    p.add_argument("--tiny", action="store_true",
                   help="build each workload at its tiny size (checks they run; not a measurement)")
    p.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    p.add_argument("--threads", type=int, default=2, help="threads for both frameworks")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternate the frameworks N times per workload, keep each one's best round")
    p.add_argument("--budget", type=float, help="seconds of timing per pair (overrides the mode)")
    p.add_argument("--no-gemm", action="store_true", help="skip the numpy GEMM reference")
    p.add_argument("--timeout", type=float, default=300, help="seconds before a child is killed")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON file to write")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--ddp" in argv:  # the ddp mode: data-parallel step time and allreduce bandwidth
        from benchmarks.ddp import main as ddp_main

        return ddp_main([a for a in argv if a != "--ddp"])
    args = parse_args(argv)
    s = settings(args)
    machine = machine_info(args.threads)  # now, so its load average is the one before the runs
    env, removed = child_env(args.threads)
    names = [n for n in WORKLOADS if not args.only or n in args.only]  # registry order
    want_torch = "torch" in args.frameworks

    log("probing the environment" + (" and numpy GEMM" if s["gemm_budget"] else "") + " ...")
    info = run_worker(["--info", "--threads", str(args.threads),
                       "--gemm-budget", str(s["gemm_budget"]),
                       "--min-runs", str(s["gemm_min_runs"]), *(["--torch"] if want_torch else [])],
                      env, args.timeout)
    if info.get("status") == "error":  # numpy itself failed: report it and carry on
        log(f"probe failed: {info['error']}")
    torch_ok = bool(info.get("torch"))
    if want_torch and not torch_ok:
        log(f"torch not installed ({info.get('torch_error', info.get('error'))}): ember only")

    rows = []
    for name in names:
        wl = WORKLOADS[name]
        budget = workload_budget(name, s, args)
        row: dict[str, Any] = {"workload": name, "kind": wl.kind, "description": wl.description,
                               "budget": budget}
        # --rounds N: the frameworks alternate N times (a busy spell on a shared machine then
        # falls on both); each keeps its round with the lowest median
        for rnd in range(args.rounds):
            for fw in FRAMEWORKS:
                if fw not in args.frameworks:
                    row[fw] = {"status": "skipped"}
                    continue
                if fw == "torch" and not torch_ok:
                    row[fw] = {"status": "missing", "error": "torch not installed"}
                    continue
                of = f" (round {rnd + 1} of {args.rounds})" if args.rounds > 1 else ""
                log(f"  {name} / {fw}{of} ...")
                res = run_worker(["--framework", fw, "--workload", name,
                                  "--threads", str(args.threads), "--budget", str(budget),
                                  "--repeats", str(s["repeats"]), "--min-runs", str(s["min_runs"]),
                                  *(["--tiny"] if args.tiny else [])],
                                 env, args.timeout)
                row[fw] = best_round(row.get(fw) if rnd else None, res)
        row["ratio"] = ratio(row)
        row["unit"] = pick_unit(row)
        rows.append(row)

    # the GEMM again at the end: on a shared machine one figure can catch a busy moment, and the
    # reference for the achieved fractions is the better of the two
    gemm_end = None
    if s["gemm_budget"] and "gflops_median" in (info.get("numpy_gemm") or {}):
        log("numpy GEMM again ...")
        gemm_end = run_worker(["--gemm-only", "--gemm-budget", str(s["gemm_budget"]),
                               "--min-runs", str(s["gemm_min_runs"])], env, args.timeout)
    gemm_ref = max((g["gflops_median"] for g in (info.get("numpy_gemm"), gemm_end)
                    if g and "gflops_median" in g), default=None)
    for row in rows:
        add_throughput(row, gemm_ref)

    versions = {k: info.get(k) for k in ("python", "numpy", "ember", "torch", "torch_threads")}
    versions.update({k: info[k] for k in ("ember_error", "torch_error") if k in info})
    result = {
        "schema": 1,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv] if argv is None else argv,
        "commit": git_commit(),
        "quick": args.quick,
        "frameworks": args.frameworks,
        "settings": s,
        "machine": machine,
        "versions": versions,
        "blas": info.get("blas", {}),
        "env": {"removed": removed, "set": {k: env[k] for k in THREAD_VARS}},
        "numpy_gemm": info.get("numpy_gemm"),
        "numpy_gemm_end": gemm_end,
        "gemm_reference_gflops": gemm_ref,
        "results": rows,
    }
    result["machine"]["loadavg_end"] = _loadavg()
    if info.get("status") == "error":
        result["probe_error"] = info
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")

    print(render_header(result))
    print()
    print(render_table(rows))
    throughput = render_throughput(rows, gemm_ref)
    if throughput:
        print()
        print(throughput)
    print(f"\nratio = ember median / torch median (lower is better for ember). "
          f"JSON: {_shown(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
