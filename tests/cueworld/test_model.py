"""The CueWorld models: the architecture, the shipped weights and their reproducible recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cuekit.cueworld.model import ARCHITECTURES, WEIGHTS_DIR, build_cueworld_model
from cuekit.cueworld.scenes import SCENE_COLOURS, SHAPES
from cuekit.distill.models import load_model, resolve_model_id
from cuekit.errors import ModelLoadError


def test_the_model_is_a_real_qwen3_vl_with_deepstack_and_mrope() -> None:
    model, processor = build_cueworld_model("cueworld-base")
    config = model.config
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    text, vision = config.text_config, config.vision_config
    assert sum(text.rope_parameters["mrope_section"]) == text.head_dim // 2
    assert vision.deepstack_visual_indexes == [0, 1]
    assert text.num_hidden_layers >= len(vision.deepstack_visual_indexes)
    # One token for every word the task uses, with and without a leading space (Qwen's
    # pre-tokenizer keeps digits apart from spaces, so a digit is one token either way).
    tokenizer = processor.tokenizer
    for word in (*SHAPES, *SCENE_COLOURS, "yes", "no", "7"):
        assert len(tokenizer(word, add_special_tokens=False)["input_ids"]) == 1, word
        spaced = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        assert len(spaced) == (2 if word.isdigit() else 1), word
    # 96x96 images stay 96x96: 6x6 image tokens.
    from PIL import Image

    batch = processor(["<|vision_start|><|image_pad|><|vision_end|>"], [Image.new("RGB", (96, 96))])
    assert batch["image_grid_thw"].tolist() == [[1, 12, 12]]
    assert int(batch["mm_token_type_ids"].sum()) == 36


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_shipped_models_load_offline_by_alias(name: str) -> None:
    folder = WEIGHTS_DIR / name
    assert resolve_model_id(name) == str(folder)
    model, processor = load_model(name)
    assert (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    fresh, _ = build_cueworld_model(name)
    assert model.config.text_config.hidden_size == fresh.config.text_config.hidden_size
    card = (folder / "README.md").read_text()
    assert "with the cue" in card and "python -m cuekit.cueworld.sft" in card
    # The card names the cue wording the model learnt, which CueWorld's extract pins.
    from cuekit.cueworld.dataset import CUE_WORDING

    assert f"The cues are in wording `{CUE_WORDING}`" in card


def test_missing_shipped_weights_name_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cuekit.cueworld import model as cueworld_model

    monkeypatch.setattr(cueworld_model, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="shipped weights are missing .* retrain them"):
        resolve_model_id("cueworld-base")


def test_the_recipe_reproduces_the_shipped_runs_first_losses(
    tmp_path: Path, cueworld_extract
) -> None:
    """Re-run the first 20 steps of the shipped command on the same first rows."""
    from cuekit.cueworld.sft import SFTConfig, train

    folder = WEIGHTS_DIR / "cueworld-base"
    shipped = json.loads((folder / "sft_config.json").read_text())
    logged = [json.loads(line) for line in (folder / "sft_curve.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"] for r in logged if "loss" in r}
    steps = 20
    data = tmp_path / "train"
    result = cueworld_extract("train", steps * shipped["batch_size"], data)
    assert result.exit_code == 0, result.output
    settings = {
        **shipped,
        "train": str(data),
        "val": None,
        "output": str(tmp_path / "sft"),
        "stop_after": steps,
        "hint_shares": tuple(shipped["hint_shares"]),
    }
    previous = torch.get_num_threads()
    try:
        train(SFTConfig(**settings))
    finally:
        torch.set_num_threads(previous)
    rerun = [
        json.loads(line) for line in (tmp_path / "sft" / "curve.jsonl").read_text().splitlines()
    ]
    rerun_losses = {r["step"]: r["loss"] for r in rerun if "loss" in r}
    assert sorted(rerun_losses) == [10, 20]
    for step, loss in rerun_losses.items():
        assert loss == pytest.approx(losses[step], rel=1e-4), step
