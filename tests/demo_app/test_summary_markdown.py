"""The demo's comparison report speaks of denoiser calls for step methods and of chunks for chunk methods."""

from mmcache.demos.summary import comparison_markdown


def metrics(chunks: dict[str, int] | None) -> dict:
    side = {"wall_seconds": 2.0, "calls": 20, "computed": 20 if chunks else 12, "skipped": 0 if chunks else 8,
            "branches": {"cond": {"calls": 20, "computed": 20 if chunks else 12, "skipped": 0 if chunks else 8}},
            "compute_saved": 0.45 if chunks else 0.4, "chunks": chunks}
    return {"config": {"method": "flowcache" if chunks else "easycache", "threshold": 0.05},
            "baseline": {**side, "wall_seconds": 3.0, "computed": 20, "from_cache": False, "chunks": None},
            "accelerated": side, "speedup": {"wall": 1.5, "denoiser_calls": 20 / side["computed"]},
            "psnr_db": 30.0, "ssim": 0.9}


def test_a_step_method_reports_its_calls():
    text = comparison_markdown(metrics(None))
    assert "1.67× denoiser calls (20 → 12 computed)" in text and "| **all** | **12** | **8** | **20** |" in text


def test_a_chunk_method_reports_its_chunks_and_the_work_saved():
    text = comparison_markdown(metrics({"computed": 30, "reused": 25, "cached": 40}))
    assert "45.0% of the block-stack work saved" in text and "denoiser calls" not in text
    assert "| reused | 25 |" in text and "| branch |" not in text
