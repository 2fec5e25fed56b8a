#!/usr/bin/env python3
"""Throughput of the mini-SBM (convda.sbm) on the default 31 years x 46 x 43 grid, in cell-days per second.

usage: python bench/bench_sbm.py [--years N] [--repeat R]
Uses convda.terrain.make_terrain and convda.weather.make_weather (falls back to convda.sbm.toy_forcing).
Numba compilation is excluded (a one-month warm-up run first); the timed call is `SBM.run` with all
gridded outputs written, i.e. what `simulate` does per day.
"""
import argparse, time
import numpy as np
from convda.terrain import make_terrain
from convda import sbm

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=31)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    static = make_terrain()
    start, end = "1989-01-01", f"{1989 + a.years - 1}-12-31"
    try:
        from convda.weather import make_weather
        forcing, src = make_weather(static, start=start, end=end), "make_weather"
    except ImportError:
        forcing, src = sbm.toy_forcing(static, start, end), "toy_forcing"
    model = sbm.SBM(static)
    st = model.initial_state()
    model.run(st, forcing.isel(time=slice(0, 31)))                     # compile / load the numba cache
    nt = forcing.sizes["time"]; ngrid = model.ny * model.nx
    P, E, T = model._forcing_arrays(forcing)
    best = cpu = np.inf
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        st1, out = model.run(st, P, E, T)
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
        wb = sbm.water_balance(model, st, st1, out)
        del out
    print(f"forcing: {src}, {nt} days, grid {model.ny} x {model.nx} ({ngrid} cells, {model.ncell} in the basin)")
    print(f"SBM.run: {best:.2f} s -> {nt * ngrid / best / 1e6:.2f} M grid-cell-days/s "
          f"({nt * model.ncell / best / 1e6:.2f} M basin-cell-days/s)")
    print(f"CPU time of this process: {cpu:.2f} s -> {nt * ngrid / cpu / 1e6:.2f} M grid-cell-days/s "
          "(wall and CPU differ when other processes share the cores)")
    print(f"water balance: |P - ET - Q - dS| / P = {wb['rel_error']:.1e}")

if __name__ == "__main__":
    main()
