"""CueWorld: a procedural VQA world small enough to run the ViCuR experiment on a CPU.

``scenes`` draws the pictures, ``questions`` asks about them, ``dataset`` turns both into
source rows for ``cuekit extract --dataset cueworld``; ``model`` builds the small
Qwen3-VL and its tokenizer, and ``sft`` is the supervised recipe that trains
``cueworld-base`` and ``cueworld-teacher``.
"""
