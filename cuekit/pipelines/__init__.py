"""The data stages, one folder each: ``extract/`` (source rows -> cue records),
``shard/`` (cue records -> WebDataset shards, with ``verify`` and ``inspect``) and
``read/`` (shards -> batches for distill). ``health`` and ``progress`` serve them all."""
