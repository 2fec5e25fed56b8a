#!/usr/bin/env python3
"""Large grid: a simulated 400 x 400 basin streamed through lazy preprocessing, tile training and
full-frame streamed prediction, with peak memory against what the in-memory path would hold.

usage: python bench/bench_largegrid.py [--ny 400 --nx 400] [--start 2017-01-01 --end 2019-12-31]
                                       [--updates 3] [--tile 64] [--predict-days 16] [--dir DIR (default: the system's temporary folder)]
The run is simulated once, in a child process whose peak RSS is printed (convda.simulate.simulate_catchment,
year by year, cached in --dir). The convda part runs in
a child process so its peak RSS is its own: open_lazy (dask, 32-day chunks) -> prepare_lazy (scalers on
64 training days) -> fit_tiles (sequence mode on 64 x 64 tiles) -> streamed prediction of the first
--predict-days test days on full frames (8-day chunks, state carried over).
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C

def child(a):
    "The lazy pipeline; prints a JSON line."
    import numpy as np
    from convda.core import RunConfig
    from convda.largegrid import open_lazy, prepare_lazy, fit_tiles, full_grid_model
    from convda.sequence import stream_model, stream_days
    t0 = time.perf_counter(); tm = {}
    ds = open_lazy(a.dir); cfg = RunConfig(train_years=1, val_years=1, test_years=1)
    prep = prepare_lazy(ds, cfg, sample_days=64); tm["prepare"] = time.perf_counter() - t0; rss_prep = C.peak_rss_gb()
    t = time.perf_counter(); model = fit_tiles(prep, tile=a.tile, updates=a.updates); tm["train"] = time.perf_counter() - t
    t = time.perf_counter()
    full = stream_model(full_grid_model(model, prep))
    first = int(prep.indices["test"][0]); a0 = first - cfg.lead - cfg.window + 1
    x = prep.x[a0:a0 + cfg.window - 1 + a.predict_days]
    y = stream_days(full, x, chunk=8)[cfg.window - 1:]
    tm["predict"] = time.perf_counter() - t
    m = prep.mask
    print("RESULT " + json.dumps(dict(peak_gb=C.peak_rss_gb(), prepare_gb=rss_prep, T=len(prep.times), ny=m.shape[0], nx=m.shape[1],
                                      basin=int(m.sum()), finite=bool(np.isfinite(y[:, m]).all()), seconds=tm,
                                      scalers={k: v["lambda"] for k, v in prep.scalers.params.items()})))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ny", type=int, default=400); ap.add_argument("--nx", type=int, default=400)
    ap.add_argument("--start", default="2017-01-01"); ap.add_argument("--end", default="2019-12-31")
    ap.add_argument("--updates", type=int, default=3); ap.add_argument("--tile", type=int, default=64)
    ap.add_argument("--predict-days", type=int, default=16)
    ap.add_argument("--dir", default=None); ap.add_argument("--child", action="store_true")
    ap.add_argument("--simulate", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.dir = a.dir or str(Path(tempfile.gettempdir()) / f"convda_large_{a.ny}x{a.nx}_{a.start}_{a.end}")
    if a.child: return child(a)
    print(C.load())
    if a.simulate:                                            # child: simulate and cache the run
        from convda.simulate import simulate_catchment
        t = time.perf_counter()
        simulate_catchment(a.dir, ny=a.ny, nx=a.nx, start=a.start, end=a.end, spinup_years=0, missing_years=(), overwrite=True)
        print(f"RESULT simulate_catchment {a.ny} x {a.nx}, {a.start}..{a.end}: peak RSS {C.peak_rss_gb():.2f} GB, "
              f"{time.perf_counter() - t:.0f} s -> {a.dir}", flush=True)
        return 0
    if not (Path(a.dir) / "convda_simulation.json").exists():   # in a child: Linux keeps a parent's peak RSS across fork + exec
        sim = subprocess.run([sys.executable, __file__, "--simulate", "--dir", a.dir, "--ny", str(a.ny), "--nx", str(a.nx),
                              "--start", a.start, "--end", a.end], capture_output=True, text=True)
        line = [l for l in sim.stdout.splitlines() if l.startswith("RESULT ")]
        if not line: print("simulation failed:", sim.stderr[-3000:]); return 1
        print(line[0], flush=True)
    cmd = [sys.executable, __file__, "--child", "--dir", a.dir, "--updates", str(a.updates), "--tile", str(a.tile),
           "--predict-days", str(a.predict_days)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if not line: print("child failed:", out.stderr[-3000:]); return 1
    r = json.loads(line[0][7:])
    frame = r["ny"] * r["nx"] * 4 / 1e9                       # GB of one float32 (y, x) field
    need = r["T"] * frame * (4 + 4 + 3)                         # prepare: raw 4 channels + scaled x (4) + y, y_phys, target
    print(f"grid {r['ny']} x {r['nx']} ({r['basin']} basin cells), {r['T']} days; times {json.dumps({k: round(v) for k, v in r['seconds'].items()})} s")
    print(f"predictions finite in the basin: {r['finite']}")
    print(f"RESULT large grid: peak RSS {r['peak_gb']:.2f} GB (after lazy prepare {r['prepare_gb']:.2f} GB); "
          f"the in-memory prepare would hold about {need:.1f} GB of arrays for these {r['T']} days")
    print(C.load())

if __name__ == "__main__":
    sys.exit(main())
