"""The streaming reader: round trip, splitting, shuffling, equal batches, resume, bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from cuekit.errors import ConfigError, SampleError
from cuekit.pipelines.read.reader import (
    ShardReader,
    decode_sample,
    iter_batches,
    plan_epoch,
    raw_samples,
    resolve_shards,
)
from cuekit.pipelines.shard.run import ShardSettings, shard
from cuekit.schemas import ExtractedSample


@pytest.fixture
def many_shards(make_extract_dir, tmp_path: Path) -> tuple[Path, list[ExtractedSample]]:
    """12 samples, 2 per shard: 6 shards."""
    extract_dir, records = make_extract_dir(12, size=(16, 12))
    out = tmp_path / "shards12"
    shard(extract_dir, out, ShardSettings(maxcount=2))
    return out, records


SAMPLE_FIELDS = (
    "id",
    "original_id",
    "source",
    "split",
    "question",
    "answer",
    "choices",
    "metadata",
    "schema_version",
)
CUE_FIELDS = ("sample_id", "phrases", "detections", "cue_text", "cue_style", "leak", "settings")


def _assert_same_fields(got, expected, names: tuple[str, ...]) -> None:
    for name in names:
        assert getattr(got, name) == getattr(expected, name), name


def test_round_trip_field_by_field(sharded, make_extract_dir) -> None:
    out, records = sharded
    extract_dir = out.parent / "extract"
    reader = ShardReader(str(out), shuffle_shards=False, shuffle_buffer=0, image_mode=None)
    got = {s.key: s for s in reader}
    assert sorted(got) == sorted(r.sample.id for r in records)
    for record in records:
        item = got[record.sample.id]
        sample, stored = record.sample, item.record.sample
        _assert_same_fields(stored, sample, SAMPLE_FIELDS)
        for i, (ref, back) in enumerate(zip(sample.images, stored.images, strict=True)):
            assert (back.sha256, back.width, back.height, back.format) == (
                ref.sha256,
                ref.width,
                ref.height,
                ref.format,
            )
            original = Image.open(extract_dir / ref.path)
            assert item.images[i].size == original.size
            assert item.images[i].tobytes() == original.tobytes()
        cue, back_cue = record.cue, item.record.cue
        _assert_same_fields(back_cue, cue, CUE_FIELDS)
        assert item.hint == cue.cue_text
        assert (item.marked_image is None) == (cue.marked_image is None)
        if cue.marked_image:
            assert (
                item.marked_image.tobytes()
                == Image.open(extract_dir / cue.marked_image).convert("RGB").tobytes()
            )


def test_plan_is_shared_seeded_and_balanced() -> None:
    shards = [(f"s{i}.tar", 10) for i in range(7)]
    plan = plan_epoch(shards, epoch=0, seed=3, world_size=2, num_workers=2)
    assert plan == plan_epoch(shards, epoch=0, seed=3, world_size=2, num_workers=2)
    assert plan.order != plan_epoch(shards, epoch=1, seed=3, world_size=2, num_workers=2).order
    assert plan.mode == "shard"
    dealt = [u for urls in plan.slots.values() for u in urls]
    assert sorted(dealt) == sorted(u for u, _ in shards)  # each shard to exactly one slot
    # 7 shards of 10: ranks get 4 and 3 shards, dealt to workers as (2, 2) and (2, 1);
    # worker w's quota is the smaller of its counts over ranks -> [20, 10], 60 of 70 kept
    assert plan.quotas == [20, 10] and plan.samples_per_rank() == 30
    assert plan_epoch(shards[:3], epoch=0, seed=0, world_size=2, num_workers=2).mode == "sample"
    with pytest.raises(ConfigError, match="3 shards cannot feed 2 ranks x 2 workers"):
        plan_epoch(shards[:3], epoch=0, seed=0, world_size=2, num_workers=2, mode="shard")


def _epoch_keys(out: Path, rank: int, **kw) -> tuple[list[str], int]:
    reader = ShardReader(str(out), rank=rank, world_size=2, num_workers=2, seed=5, **kw)
    batches = list(reader.loader(batch_size=2))
    assert len(batches) == reader.batches_per_rank(2)
    return [k for b in batches for k in b.keys], len(batches)


def test_two_ranks_two_workers_cover_every_sample_once(many_shards) -> None:
    out, records = many_shards
    all_keys = sorted(r.sample.id for r in records)
    keys0, batches0 = _epoch_keys(out, 0, shuffle_buffer=3)
    keys1, batches1 = _epoch_keys(out, 1, shuffle_buffer=3)
    assert batches0 == batches1  # equal batches per rank
    assert len(keys0) == len(keys1)
    together = keys0 + keys1
    assert len(together) == len(set(together))  # no duplication
    # 6 shards of 2 over 4 slots: slots get 2,1 (rank 0) and 2,1 (rank 1) shards, so the
    # policy keeps quotas [4, 2] per rank: all 12 samples, nothing dropped
    assert sorted(together) == all_keys


def test_sample_split_when_shards_are_few(sharded) -> None:
    out, records = sharded  # 3 shards, 8 samples, 4 slots -> sample mode, quota 2 per slot
    keys0, b0 = _epoch_keys(out, 0, shuffle_buffer=0)
    keys1, b1 = _epoch_keys(out, 1, shuffle_buffer=0)
    assert b0 == b1 == 2 and len(keys0) == len(keys1) == 4
    assert sorted(keys0 + keys1) == sorted(r.sample.id for r in records)


def test_uneven_shards_drop_the_surplus_evenly(make_extract_dir, tmp_path: Path) -> None:
    extract_dir, _ = make_extract_dir(9, size=(8, 8))
    shard(extract_dir, tmp_path / "o", ShardSettings(maxcount=2))  # shards 2,2,2,2,1
    readers = [ShardReader(str(tmp_path / "o"), rank=r, world_size=2, seed=1) for r in (0, 1)]
    keys = [[s.key for s in reader] for reader in readers]
    assert len(keys[0]) == len(keys[1]) == readers[0].samples_per_rank()
    assert not set(keys[0]) & set(keys[1])
    assert 9 - len(keys[0]) * 2 <= 2  # at most one shard's worth dropped per slot


def test_shuffle_is_seeded(many_shards) -> None:
    out, _ = many_shards
    order = [s.key for s in ShardReader(str(out), seed=1, shuffle_buffer=4)]
    assert order == [s.key for s in ShardReader(str(out), seed=1, shuffle_buffer=4)]
    assert order != [s.key for s in ShardReader(str(out), seed=2, shuffle_buffer=4)]
    reader = ShardReader(str(out), seed=1, shuffle_buffer=4)
    reader.set_epoch(1)
    assert [s.key for s in reader] != order
    assert sorted(order) == sorted(s.key for s in reader)
    plain = [s.key for s in ShardReader(str(out), shuffle_shards=False, shuffle_buffer=0)]
    assert plain == sorted(plain)


def test_resume_continues_with_unseen_samples(many_shards) -> None:
    out, _ = many_shards

    def per_worker(batches) -> dict[int, list[str]]:
        streams: dict[int, list[str]] = {0: [], 1: []}
        for batch in batches:
            for s in batch.samples:
                streams[s.worker].append(s.key)
        return streams

    options = dict(num_workers=2, seed=9, shuffle_buffer=4)
    full = per_worker(ShardReader(str(out), **options).loader(batch_size=2))

    reader = ShardReader(str(out), **options)
    consumed = []
    for step, batch in enumerate(reader.loader(batch_size=2)):
        consumed.append(batch)
        reader.mark_consumed(batch)
        if step == 2:
            break  # "crash" after three batches
    state = json.loads(json.dumps(reader.state_dict()))
    assert state["consumed"] == [4, 2]  # round-robin: worker 0 gave batches 0 and 2

    resumed = ShardReader(str(out), **options)
    resumed.load_state_dict(state)
    rest = per_worker(resumed.loader(batch_size=2))
    before = per_worker(consumed)
    for worker in (0, 1):
        assert before[worker] + rest[worker] == full[worker]
    everything = [k for w in (0, 1) for k in before[w] + rest[w]]
    assert len(everything) == len(set(everything)) == 12

    # a new epoch starts from zero
    resumed.set_epoch(1)
    assert resumed.state_dict()["consumed"] == [0, 0]


def test_resume_state_must_match(many_shards) -> None:
    out, _ = many_shards
    state = ShardReader(str(out), num_workers=2, seed=1).state_dict()
    with pytest.raises(
        ConfigError, match="cannot resume: reader state has seed=1, this reader has 2"
    ):
        ShardReader(str(out), num_workers=2, seed=2).load_state_dict(state)
    with pytest.raises(ConfigError, match="cannot resume: reader state has num_workers=2"):
        ShardReader(str(out), num_workers=1, seed=1).load_state_dict(state)


def test_resampled_epochs_have_fixed_length(many_shards) -> None:
    out, records = many_shards
    reader = ShardReader(str(out), resampled=True, rank=0, world_size=2, seed=4)
    keys = [s.key for s in reader]
    assert len(keys) == reader.samples_per_rank() == 6
    assert set(keys) <= {r.sample.id for r in records}


def test_urls_and_brace_patterns(many_shards) -> None:
    out, _ = many_shards
    pattern = str(out / "shard-{000000..000005}.tar")
    shards = resolve_shards(pattern)
    assert [Path(u).name for u, _ in shards] == [f"shard-{i:06d}.tar" for i in range(6)]
    assert [n for _, n in shards] == [2] * 6
    file_url = "file://" + str(out / "shard-{000000..000001}.tar")
    assert Counter(s.key for s in ShardReader(file_url, shuffle_buffer=0)) == Counter(
        ["s000", "s001", "s002", "s003"]
    )
    lonely = out.parent / "lonely"
    lonely.mkdir()
    (lonely / "a.tar").write_bytes((out / "shard-000000.tar").read_bytes())
    with pytest.raises(ConfigError, match="no sample count for .*a.tar: keep shards.parquet"):
        resolve_shards(str(lonely / "a.tar"))
    assert resolve_shards(str(lonely / "a.tar"), {"a.tar": 2})[0][1] == 2
    with pytest.raises(ConfigError, match="has no shards.parquet"):
        resolve_shards(str(lonely))


def test_decode_never_unpickles_and_reports_bad_members(sharded) -> None:
    out, _ = sharded
    raw = dict(next(raw_samples([str(out / "shard-000000.tar")])))
    raw["pyd"] = b"\x80\x04not a pickle we would ever load"
    raw["pth"] = b"garbage"
    fields = decode_sample(raw)
    assert fields.key == "s000" and fields.images[0].mode == "RGB"
    with pytest.raises(SampleError, match="no .json member"):
        decode_sample({k: v for k, v in raw.items() if k != "json"})
    with pytest.raises(SampleError, match="json does not parse"):
        decode_sample(raw | {"json": b"{nope"})
    image_name = [k for k in raw if k.startswith("img0")][0]
    with pytest.raises(SampleError, match=r"image 0 \(s000.img0.png\) missing"):
        decode_sample({k: v for k, v in raw.items() if k != image_name})
    with pytest.raises(SampleError, match="image does not decode"):
        decode_sample(raw | {image_name: raw[image_name][:50]})
    with pytest.raises(SampleError, match="json holds sample 's000'"):
        decode_sample(raw | {"__key__": "other"})


def test_handler_can_skip_bad_samples(sharded, tmp_path: Path) -> None:
    out, _ = sharded
    data = bytearray((out / "shard-000000.tar").read_bytes())
    start = data.find(b'{"sample"')
    data[start : start + 2] = b"[["  # json of the first sample no longer parses
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "shard-000000.tar").write_bytes(bytes(data))
    url = str(broken / "shard-000000.tar")
    with pytest.raises(SampleError, match="json does not parse"):
        list(ShardReader(url, shard_sizes={"shard-000000.tar": 3}, shuffle_buffer=0))
    kept = ShardReader(
        url, shard_sizes={"shard-000000.tar": 3}, shuffle_buffer=0, handler=lambda exc: True
    )
    assert [s.key for s in kept] == ["s001", "s002"]


def test_batches_and_worker_mismatch(sharded) -> None:
    out, _ = sharded
    reader = ShardReader(str(out), shuffle_buffer=0, shuffle_shards=False)
    batches = list(iter_batches(reader, 3))
    assert [len(b) for b in batches] == [3, 3, 2]
    assert [len(b) for b in iter_batches(reader, 3, drop_last=True)] == [3, 3]
    assert batches[0].keys == ["s000", "s001", "s002"]
    assert batches[0].hints == [r.cue.cue_text for r in batches[0].records]
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        list(iter_batches(reader, 0))
    with pytest.raises(
        ConfigError, match="built for num_workers=2 but runs under a DataLoader with 0"
    ):
        list(ShardReader(str(out), num_workers=2))
    with pytest.raises(ConfigError, match="need 0 <= rank < world_size, got rank=2"):
        ShardReader(str(out), rank=2, world_size=2)
    with pytest.raises(ConfigError, match="pass both rank and world_size"):
        ShardReader(str(out), rank=1)


def test_a_path_that_does_not_exist_says_what_to_pass(tmp_path):
    from cuekit.errors import ConfigError
    from cuekit.pipelines.read.reader import resolve_shards

    with pytest.raises(
        ConfigError,
        match=r"no shard at .*nothing: pass a `cuekit shard` "
        r"output folder, a brace pattern",
    ):
        resolve_shards(str(tmp_path / "nothing"))
