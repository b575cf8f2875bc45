"""`cuekit shard`, `verify` and `inspect`: an extract folder -> deterministic tar shards.

``run`` drives the stage; ``tarwriter`` writes byte-identical tars; ``manifest`` names
and writes the shard folder's index files; ``verify`` and ``inspect`` read them back."""
