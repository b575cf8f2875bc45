"""The streaming reader that feeds distill: shards -> :class:`ShardSample` records.

Pipeline of one (rank, DataLoader worker) *slot* for one epoch, built from webdataset's
tar primitives::

    epoch shard order (seeded by seed, epoch; same on every rank)
      -> this slot's shards          (balanced assignment, see below)
      -> tar members -> raw samples  (webdataset tar_file_expander + group_by_keys)
      -> buffer shuffle              (seeded by seed, epoch, rank, worker)
      -> first ``quota`` samples     (equalisation: the rest is dropped this epoch)
      -> skip what was consumed      (resume)
      -> decode                      (json / txt / images only; nothing is unpickled)

**Equal batches, no duplication (policy: equalise by dropping).** Sample counts come from
``shards.parquet``. In ``shard`` split mode each epoch's shuffled shards are dealt to
ranks and then to workers, each time to the one holding the fewest samples. Worker ``w``
of every rank then yields exactly ``quota[w] = min over ranks of its sample count``, so
every rank yields the same number of samples *and* of batches (each DataLoader worker
batches its own stream). Each sample is yielded at most once per epoch; the surplus,
at most about one shard per slot, is dropped, and which samples those are changes with
the epoch. When there are fewer shards than slots, ``auto`` mode falls back to ``sample``
split: every slot reads every shard and keeps every S-th sample (S = slots), with
``quota = N // S``, so at most S-1 samples drop, at the cost of each slot reading all bytes.
With ``resampled=True``, every slot draws shards with replacement forever; an "epoch" is
then ``N // S`` samples per slot, and repeats are expected.

**Resume (exact, not just within a buffer).** Every slot's stream is a pure function of
(shards, seed, epoch, rank, worker). Each yielded sample carries ``worker`` and
``position``; the trainer calls :meth:`ShardReader.mark_consumed` on what it used, and
:meth:`state_dict` records per-worker counts. After :meth:`load_state_dict`, each worker
replays its stream, discards the first ``consumed[w]`` samples before decoding them, and
continues with exactly the samples an uninterrupted run would have yielded next (per
worker; how the DataLoader interleaves workers' batches may differ just after the resume,
and samples prefetched but never marked consumed are yielded again). The cost is
re-reading the consumed part of the epoch's tar bytes, without decoding it. Resuming needs
the same shards, seed, world size and number of workers; the state check refuses the rest.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import count, islice
from pathlib import Path
from typing import Any, Literal

import torch.utils.data
from PIL import Image
from webdataset.filters import shuffle as wds_shuffle
from webdataset.handlers import reraise_exception
from webdataset.shardlists import expand_urls
from webdataset.tariterators import group_by_keys, tar_file_expander

from cuekit.errors import ConfigError, SampleError
from cuekit.io import decode_sample_image
from cuekit.pipelines.shard import manifest as mf
from cuekit.schemas import (
    HINT_MEMBER,
    JSON_MEMBER,
    KEY_FIELD,
    URL_FIELD,
    ExtractedSample,
    member_suffix,
    validate,
)

SplitMode = Literal["auto", "shard", "sample"]
STATE_VERSION = 1


@dataclass(frozen=True)
class DecodedSample:
    """One sample decoded from its tar members (:func:`decode_sample`). ``images`` are PIL
    images in ``record.sample.images`` order; ``url`` is the shard it came from."""

    key: str
    record: ExtractedSample
    images: list[Image.Image]
    hint: str
    marked_image: Image.Image | None
    url: str


@dataclass(frozen=True)
class ShardSample(DecodedSample):
    """A decoded sample as the reader streams it, with its place in the epoch."""

    epoch: int
    worker: int
    position: int  # index in this worker's stream for the epoch (for resume)

    @classmethod
    def placed(
        cls, decoded: DecodedSample, *, epoch: int, worker: int, position: int
    ) -> ShardSample:
        """``decoded`` at its place in the epoch (its fields shared, not copied)."""
        shared = {f.name: getattr(decoded, f.name) for f in fields(DecodedSample)}
        return cls(**shared, epoch=epoch, worker=worker, position=position)


@dataclass(frozen=True)
class ShardBatch:
    """A list of samples as the trainer receives it (DataLoader ``collate_fn``)."""

    samples: list[ShardSample]

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.samples]

    @property
    def records(self) -> list[ExtractedSample]:
        return [s.record for s in self.samples]

    @property
    def images(self) -> list[list[Image.Image]]:
        return [s.images for s in self.samples]

    @property
    def hints(self) -> list[str]:
        return [s.hint for s in self.samples]

    def __len__(self) -> int:
        return len(self.samples)


def collate_samples(samples: list[ShardSample]) -> ShardBatch:
    return ShardBatch(list(samples))


def iter_batches(
    samples: Iterable[ShardSample], batch_size: int, *, drop_last: bool = False
) -> Iterator[ShardBatch]:
    """Group a sample stream into batches without a DataLoader."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    iterator = iter(samples)
    while chunk := list(islice(iterator, batch_size)):
        if len(chunk) < batch_size and drop_last:
            return
        yield ShardBatch(chunk)


# ---------------------------------------------------------------- shard lists


def resolve_shards(
    urls: str | Sequence[str], shard_sizes: Mapping[str, int] | None = None
) -> list[tuple[str, int]]:
    """``(url, sample count)`` for a shard folder, brace pattern(s) or list of URLs.

    Counts come from ``shard_sizes`` (keyed by shard file name) or from the
    ``shards.parquet`` found next to the shards.
    """
    if isinstance(urls, str) and not mf.is_remote(urls) and Path(urls).is_dir():
        table = mf.read_shards_table(urls)
        if table is None:
            raise ConfigError(f"{urls} has no {mf.SHARDS_FILE}: is it a `cuekit shard` output?")
        return [
            (str(Path(urls) / row["shard"]), int(row["samples"]))
            for row in table.sort("shard_index").iter_rows(named=True)
        ]
    expanded = (
        expand_urls(urls)
        if isinstance(urls, str)
        else [u for spec in urls for u in expand_urls(spec)]
    )
    if not expanded:
        raise ConfigError(f"no shards in {urls!r}")
    sizes = dict(shard_sizes or {})
    for folder in dict.fromkeys(mf.url_folder(u) for u in expanded):
        if all(u.rsplit("/", 1)[-1] in sizes for u in expanded):
            break
        table = mf.read_shards_table(folder)
        if table is not None:
            sizes.update(dict(zip(table["shard"], table["samples"], strict=True)))
    missing = [u for u in expanded if u.rsplit("/", 1)[-1] not in sizes]
    absent = [u for u in missing if not mf.is_remote(u) and not Path(u).exists()]
    if absent:
        raise ConfigError(
            f"no shard at {absent[0]}: pass a `cuekit shard` output folder, "
            "a brace pattern such as 'DIR/shard-{000000..000009}.tar', or URLs"
        )
    if missing:
        raise ConfigError(
            f"no sample count for {missing[0]}: keep {mf.SHARDS_FILE} next to the "
            "shards or pass shard_sizes={name: count}"
        )
    return [(u, int(sizes[u.rsplit("/", 1)[-1]])) for u in expanded]


def _opened(urls: Iterable[str], handler: Callable[[Exception], bool]) -> Iterator[dict[str, Any]]:
    for url in urls:
        try:
            yield {"url": url, "stream": mf.open_url(url)}
        except Exception as exc:
            exc.args = (*exc.args, url)
            if not handler(exc):
                return


def raw_samples(
    urls: Iterable[str], handler: Callable[[Exception], bool] = reraise_exception
) -> Iterator[dict[str, Any]]:
    """Tar shards -> dicts ``{"__key__", "__url__", suffix: bytes}`` (webdataset grouping)."""
    for opened in _opened(urls, handler):
        try:
            files = tar_file_expander([opened], handler=handler)
            yield from group_by_keys(files, handler=handler)
        finally:
            opened["stream"].close()


# ---------------------------------------------------------------- epoch plan


@dataclass(frozen=True)
class EpochPlan:
    """What every slot reads in one epoch; identical on every rank and worker."""

    mode: Literal["shard", "sample"]
    order: list[tuple[str, int]]  # the epoch's shard order
    slots: dict[tuple[int, int], list[str]]  # (rank, worker) -> urls, shard mode only
    quotas: list[int]  # per worker index, same for every rank

    def samples_per_rank(self) -> int:
        return sum(self.quotas)


def _deal(items: list[tuple[str, int]], bins: int) -> list[list[tuple[str, int]]]:
    """Give each item, in order, to the bin with the fewest samples (ties: lowest index)."""
    dealt: list[list[tuple[str, int]]] = [[] for _ in range(bins)]
    totals = [0] * bins
    for item in items:
        target = min(range(bins), key=lambda b: (totals[b], b))
        dealt[target].append(item)
        totals[target] += item[1]
    return dealt


def plan_epoch(
    shards: list[tuple[str, int]],
    *,
    epoch: int,
    seed: int,
    world_size: int,
    num_workers: int,
    shuffle_shards: bool = True,
    mode: SplitMode = "auto",
) -> EpochPlan:
    """Deal the epoch's shards to (rank, worker) slots and fix per-worker quotas."""
    order = list(shards)
    if shuffle_shards:
        random.Random(f"shards:{seed}:{epoch}").shuffle(order)
    slots_total = world_size * num_workers
    if mode == "auto":
        mode = "shard" if len(order) >= slots_total else "sample"
    if mode == "sample":
        quota = sum(count for _, count in order) // slots_total
        return EpochPlan("sample", order, {}, [quota] * num_workers)
    if mode != "shard":
        raise ConfigError(f"split mode must be auto, shard or sample, got {mode!r}")
    slots: dict[tuple[int, int], list[str]] = {}
    counts: dict[tuple[int, int], int] = {}
    for rank, rank_shards in enumerate(_deal(order, world_size)):
        for worker, worker_shards in enumerate(_deal(rank_shards, num_workers)):
            slots[(rank, worker)] = [url for url, _ in worker_shards]
            counts[(rank, worker)] = sum(count for _, count in worker_shards)
    quotas = [min(counts[(r, w)] for r in range(world_size)) for w in range(num_workers)]
    if 0 in quotas:
        raise ConfigError(
            f"{len(order)} shards cannot feed {world_size} ranks x {num_workers} "
            "workers in shard split mode: use split='sample' or smaller shards"
        )
    return EpochPlan("shard", order, slots, quotas)


# ---------------------------------------------------------------- decoding


def decode_sample(raw: Mapping[str, Any], image_mode: str | None = "RGB") -> DecodedSample:
    """Raw tar members -> record, hint and PIL images. Unknown members are ignored, never
    decoded (no pickle, no torch.load)."""
    key = raw[KEY_FIELD]
    if JSON_MEMBER not in raw:
        raise SampleError("no .json member", sample_id=key, field="json", stage="read")
    try:
        payload = json.loads(raw[JSON_MEMBER])
    except ValueError as exc:
        raise SampleError(
            f"json does not parse ({exc})", sample_id=key, field="json", stage="read"
        ) from None
    record = validate(ExtractedSample, payload, sample_id=key)
    if record.sample.id != key:
        raise SampleError(
            f"json holds sample {record.sample.id!r}",
            sample_id=key,
            field="sample.id",
            stage="read",
        )
    images = []
    for i, ref in enumerate(record.sample.images):
        suffix = member_suffix(ref.path) if ref.path.startswith(f"{key}.") else None
        if suffix is None or suffix not in raw:
            raise SampleError(
                f"image {i} ({ref.path}) missing from the shard",
                sample_id=key,
                field=f"sample.images.{i}",
                stage="read",
            )
        images.append(
            decode_sample_image(
                raw[suffix],
                sample_id=key,
                field=f"sample.images.{i}",
                stage="read",
                upright=True,
                mode=image_mode,
            )
        )
    marked = None
    if record.cue.marked_image is not None:
        suffix = member_suffix(record.cue.marked_image)
        if suffix not in raw:
            raise SampleError(
                "marked image missing from the shard",
                sample_id=key,
                field="cue.marked_image",
                stage="read",
            )
        marked = decode_sample_image(
            raw[suffix],
            sample_id=key,
            field="cue.marked_image",
            stage="read",
            upright=True,
            mode=image_mode,
        )
    hint = raw[HINT_MEMBER].decode("utf-8") if HINT_MEMBER in raw else record.cue.cue_text
    return DecodedSample(
        key=key,
        record=record,
        images=images,
        hint=hint,
        marked_image=marked,
        url=raw.get(URL_FIELD, ""),
    )


# ---------------------------------------------------------------- the dataset


def _node_info(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Explicit arguments win; else RANK/WORLD_SIZE or torch.distributed (webdataset's rule)."""
    if rank is not None and world_size is not None:
        found = (rank, world_size)
    elif rank is None and world_size is None:
        from webdataset.utils import pytorch_worker_info

        found = pytorch_worker_info()[:2]
    else:
        raise ConfigError("pass both rank and world_size, or neither")
    if found[1] < 1 or not 0 <= found[0] < found[1]:
        raise ConfigError(
            f"need 0 <= rank < world_size, got rank={found[0]}, world_size={found[1]}"
        )
    return found


class ShardReader(torch.utils.data.IterableDataset):
    """A seeded, node- and worker-split, resumable stream of :class:`ShardSample`.

    ``num_workers`` must equal the DataLoader's (use :meth:`loader`); quotas depend on it.
    Call :meth:`set_epoch` before each epoch; see the module docstring for the guarantees.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        num_workers: int = 0,
        seed: int = 0,
        shuffle_shards: bool = True,
        shuffle_buffer: int = 1000,
        resampled: bool = False,
        split: SplitMode = "auto",
        rank: int | None = None,
        world_size: int | None = None,
        shard_sizes: Mapping[str, int] | None = None,
        image_mode: str | None = "RGB",
        handler: Callable[[Exception], bool] = reraise_exception,
    ) -> None:
        super().__init__()
        if num_workers < 0 or shuffle_buffer < 0:
            raise ConfigError(
                f"num_workers and shuffle_buffer must be >= 0, got "
                f"{num_workers} and {shuffle_buffer}"
            )
        self.shards = resolve_shards(urls, shard_sizes)
        self.rank, self.world_size = _node_info(rank, world_size)
        self.num_workers = num_workers
        self.seed, self.shuffle_shards, self.shuffle_buffer = seed, shuffle_shards, shuffle_buffer
        self.resampled, self.split, self.image_mode, self.handler = (
            resampled,
            split,
            image_mode,
            handler,
        )
        self.epoch = 0
        self.consumed = [0] * self._slots_per_rank
        self.plan(0)  # fail now, not inside a worker, when the split cannot work

    @property
    def _slots_per_rank(self) -> int:
        return max(1, self.num_workers)

    def plan(self, epoch: int) -> EpochPlan:
        mode: SplitMode = "sample" if self.resampled else self.split
        return plan_epoch(
            self.shards,
            epoch=epoch,
            seed=self.seed,
            world_size=self.world_size,
            num_workers=self._slots_per_rank,
            mode=mode,
            shuffle_shards=self.shuffle_shards,
        )

    def samples_per_rank(self, epoch: int | None = None) -> int:
        """Samples each rank yields in ``epoch`` (default: the current one); equal on all ranks."""
        return self.plan(self.epoch if epoch is None else epoch).samples_per_rank()

    def batches_per_rank(
        self, batch_size: int, *, drop_last: bool = False, epoch: int | None = None
    ) -> int:
        """Batches per rank when each DataLoader worker batches its own stream."""
        quotas = self.plan(self.epoch if epoch is None else epoch).quotas
        per_worker = (q // batch_size if drop_last else -(-q // batch_size) for q in quotas)
        return sum(per_worker)

    # -- epochs and resume state (main process) --

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch = epoch
            self.consumed = [0] * self._slots_per_rank

    def mark_consumed(self, samples: ShardBatch | Iterable[ShardSample]) -> None:
        """Record samples the trainer has used, for :meth:`state_dict`."""
        items = samples.samples if isinstance(samples, ShardBatch) else samples
        for sample in items:
            if sample.epoch == self.epoch:
                self.consumed[sample.worker] = max(
                    self.consumed[sample.worker], sample.position + 1
                )

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "consumed": list(self.consumed),
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
            "num_workers": self.num_workers,
            "resampled": self.resampled,
            "shards": [url.rsplit("/", 1)[-1] for url, _ in self.shards],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        mine = self.state_dict()
        for name in ("version", "seed", "rank", "world_size", "num_workers", "resampled", "shards"):
            if state.get(name) != mine[name]:
                raise ConfigError(
                    f"cannot resume: reader state has {name}={state.get(name)!r}, "
                    f"this reader has {mine[name]!r}"
                )
        consumed = [int(n) for n in state["consumed"]]
        if len(consumed) != self._slots_per_rank or min(consumed) < 0:
            raise ConfigError(
                f"cannot resume: consumed counts {consumed} do not fit "
                f"{self._slots_per_rank} workers"
            )
        self.epoch, self.consumed = int(state["epoch"]), consumed

    def loader(
        self, batch_size: int, *, drop_last: bool = False, **kwargs: Any
    ) -> torch.utils.data.DataLoader:
        """A DataLoader with this reader's worker count, yielding :class:`ShardBatch`."""
        return torch.utils.data.DataLoader(
            self,
            batch_size=batch_size,
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=collate_samples,
            **kwargs,
        )

    # -- the stream (runs in each DataLoader worker) --

    def _worker(self) -> int:
        info = torch.utils.data.get_worker_info()
        seen = 0 if info is None else info.num_workers
        if seen != self.num_workers:
            raise ConfigError(
                f"ShardReader was built for num_workers={self.num_workers} but runs "
                f"under a DataLoader with {seen}: use reader.loader(...)"
            )
        return 0 if info is None else info.id

    def _raw_stream(self, plan: EpochPlan, worker: int) -> Iterator[dict[str, Any]]:
        slot = self.rank * self._slots_per_rank + worker
        slots_total = self.world_size * self._slots_per_rank
        if self.resampled:
            rng = random.Random(f"resample:{self.seed}:{self.epoch}:{slot}")
            urls = [url for url, _ in plan.order]
            endless = (rng.choice(urls) for _ in count())
            return raw_samples(endless, self.handler)
        if plan.mode == "shard":
            return raw_samples(plan.slots[(self.rank, worker)], self.handler)
        stream = raw_samples([url for url, _ in plan.order], self.handler)
        return islice(stream, slot, None, slots_total)

    def __iter__(self) -> Iterator[ShardSample]:
        worker = self._worker()
        epoch, skip = self.epoch, self.consumed[worker]  # snapshot: the trainer may move on
        plan = self.plan(epoch)
        stream: Iterator[dict[str, Any]] = self._raw_stream(plan, worker)
        if self.shuffle_buffer > 1:
            rng = random.Random(f"buffer:{self.seed}:{epoch}:{self.rank}:{worker}")
            stream = wds_shuffle(bufsize=self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng)(
                stream
            )
        for position, raw in enumerate(islice(stream, plan.quotas[worker])):
            if position < skip:
                continue  # consumed before the restart: never decoded
            try:
                decoded = decode_sample(raw, self.image_mode)
            except Exception as exc:
                if self.handler(exc):
                    continue
                raise
            yield ShardSample.placed(decoded, epoch=epoch, worker=worker, position=position)
