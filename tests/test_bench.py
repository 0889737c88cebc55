import sys

import pytest

from frannet.bench import format_report, load_rrdbnet_class, run_bench
from frannet.checkpoint import save_model
from frannet.config import ModelConfig
from frannet.models import FranNet


def _has_rrdbnet() -> bool:
    try:
        load_rrdbnet_class()
    except ImportError:
        return False
    return True


def _check_row(row: dict) -> None:
    assert row["seconds"] > 0 and row["mpix_per_s"] > 0 and row["peak_mem_mb"] >= 0
    assert row["output"] == [64, 64]


def test_bench(tmp_path):
    # One run_bench call (each network costs a fresh process); the RRDBNet part only with spandrel.
    path = tmp_path / "tiny.safetensors"
    save_model(path, FranNet(ModelConfig(channels=8, blocks=1, hidden=16, decoder_layers=2)).eval())
    rrdb = _has_rrdbnet()
    # One thread: with spare cores busy, spinning OpenMP threads make tiny runs crawl.
    result = run_bench(path, size=16, scale=4, repeats=2, compare_rrdb=rrdb, threads=1)
    assert result["input"] == [16, 16] and result["scale"] == 4 and result["threads"] == 1
    _check_row(result["frannet"])
    report = format_report(result)
    assert "64x64" in report and "frannet" in report
    if rrdb:
        _check_row(result["rrdbnet"])
        assert result["ratio"] == pytest.approx(result["frannet"]["seconds"] / result["rrdbnet"]["seconds"])
        assert "RRDBNet" in report
    else:
        assert result["rrdbnet"] is None and result["ratio"] is None
    assert "torchvision" not in sys.modules
