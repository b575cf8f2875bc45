"""Sample shards for distill tests: `cuekit extract` (annotations) then `cuekit shard`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cuekit.grounding.base import DetectorOptions
from cuekit.pipelines.extract import ExtractConfig, run_extract
from cuekit.pipelines.shard import ShardSettings, shard
from cuekit.pipelines.sources import SourceSpec


@pytest.fixture(scope="session")
def sample_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("distill-data")
    run_extract(ExtractConfig(source=SourceSpec(dataset="sample"), output=root / "extract",
                              detectors=("annotations",), detector=DetectorOptions()))
    shard(root / "extract", root / "shards", ShardSettings(maxcount=8))
    return root / "shards"
