"""convda.preprocess on a real Wflow.jl run (the hydromt_wflow Piave fixtures) and import hygiene.

The notebook nbs/10_preprocess.ipynb holds the main tests (synthetic run); these check what only
real files can show. Skipped where ../shared/fixtures is absent (a fresh clone).
"""
import subprocess, sys
from pathlib import Path
import numpy as np
import pytest

FIX = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "wflow_piave_v1"
needs_fixture = pytest.mark.skipif(not FIX.exists(), reason="shared fixtures not available")


def test_import_does_not_load_tensorflow():
    code = "import sys, convda.preprocess; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def piave():
    from convda.io import open_run
    return open_run(FIX)


@needs_fixture
def test_real_inputs_and_capacity(piave):
    from convda.preprocess import basin_mask, eq6_capacity, missing_days, CHANNELS, Scalers
    mask = basin_mask(piave)
    assert mask.any() and not mask.all()
    raw = {n: piave[n].transpose("time", "y", "x").values for n in CHANNELS}
    river = mask & np.isfinite(raw["q_river"]).any(0)
    assert 0 < river.sum() < mask.sum()                 # q_river is NaN off-river
    for n in CHANNELS:
        assert not missing_days(raw[n], river if n == "q_river" else mask).any()
    for l in range(4):
        cap = eq6_capacity(piave, l)
        assert cap.shape == mask.shape and (cap[mask] >= 0).all() and np.isfinite(cap[mask]).all()
    assert (eq6_capacity(piave, 0)[mask] > 0).all()
    sc = Scalers().fit("precip", raw["precip"][:, mask]).fit("q_river", raw["q_river"][:, river])
    s = sc.transform("q_river", raw["q_river"][:, river])
    assert np.isclose(s.min(), 0, atol=1e-6) and np.isclose(s.max(), 1, atol=1e-6)
    np.testing.assert_allclose(sc.inverse("q_river", s), raw["q_river"][:, river], rtol=1e-3, atol=1e-3)


@needs_fixture
def test_real_run_without_state_output_fails_clearly(piave):
    from convda.core import ConvdaError, RunConfig
    from convda.preprocess import prepare
    with pytest.raises(ConvdaError, match="ustorelayerdepth"):   # this run wrote no soil states
        prepare(piave, RunConfig())
