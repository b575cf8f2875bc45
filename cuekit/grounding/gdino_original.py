"""Opt-in ``groundingdino-original`` detector: the original Grounding DINO package.

The original code (``pip install groundingdino-py``, top-level package
``groundingdino``; every fork installs the same name) pins supervision==0.6.0,
needs a CUDA build of torchvision and breaks on transformers 5. It cannot share
cuekit's main environment: install it in a virtual environment of its own with
its pins, and install cuekit there too. The default ``grounding-dino`` backend
(transformers) runs the same checkpoints and needs none of this.

Weights: the released checkpoint is a pickled ``.pth``. cuekit loads
safetensors only, so convert it once, in a trusted environment, with::

    import torch, safetensors.torch as st
    sd = torch.load("groundingdino_swint_ogc.pth", weights_only=True)["model"]
    st.save_file({k: v.contiguous() for k, v in sd.items()}, "groundingdino_swint_ogc.safetensors")

``options.model`` is ``"CONFIG_PY::CHECKPOINT.safetensors"`` or a folder holding
exactly one ``.py`` config and one ``.safetensors`` checkpoint. Note that the
original code reads its config by *executing* the ``.py`` file: point it only
at config files you trust.

The part that does not need the package, turning the model's raw outputs
(``pred_boxes``, ``pred_logits``: torch tensors) into detections, is
:func:`cuekit.grounding.spans.phrase_detections`, the transformers backend's
per-phrase scoring rule, called with ``backend=BACKEND_NAME``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cuekit.errors import ConfigError, ModelLoadError
from cuekit.grounding.base import DetectItem, DetectorOptions
from cuekit.grounding.nms import nms_detections
from cuekit.grounding.spans import (
    MAX_TEXT_TOKENS,
    build_prompt,
    is_groundable,
    phrase_detections,
    phrase_token_spans,
)
from cuekit.schemas import Detection

BACKEND_NAME = "groundingdino-original"
_INSTALL_HINT = (
    "the 'groundingdino-original' detector needs the original Grounding DINO package, which "
    "pins supervision==0.6.0, needs a CUDA torchvision and breaks on transformers 5: create a "
    "separate virtual environment, `pip install groundingdino-py` there (with its pins) and "
    "install cuekit into it; or use the 'grounding-dino' detector (transformers), which runs "
    "the same checkpoints"
)
_MODEL_HINT = (
    "set the model to 'CONFIG_PY::CHECKPOINT.safetensors' or to a folder holding one .py config "
    "and one .safetensors checkpoint (convert the released .pth once; see "
    "cuekit.grounding.gdino_original's docstring)"
)


def resolve_model_files(model: str | None) -> tuple[Path, Path]:
    """``options.model`` -> ``(config .py, checkpoint .safetensors)``, both existing."""
    if not model:
        raise ConfigError(f"groundingdino-original: no model given; {_MODEL_HINT}")
    if "::" in model:
        config_text, checkpoint_text = model.split("::", 1)
        config, checkpoint = Path(config_text).expanduser(), Path(checkpoint_text).expanduser()
    else:
        folder = Path(model).expanduser()
        if not folder.is_dir():
            raise ModelLoadError(f"groundingdino-original: folder {model!r} does not exist")
        configs = sorted(folder.glob("*.py"))
        checkpoints = sorted(folder.glob("*.safetensors"))
        if len(configs) != 1 or len(checkpoints) != 1:
            raise ModelLoadError(
                f"groundingdino-original: {model!r} holds {len(configs)} .py and "
                f"{len(checkpoints)} .safetensors files, expected one of each; {_MODEL_HINT}"
            )
        config, checkpoint = configs[0], checkpoints[0]
    if checkpoint.suffix != ".safetensors":
        raise ConfigError(
            f"groundingdino-original: checkpoint {str(checkpoint)!r} is not .safetensors; "
            f"pickled checkpoints are not loaded. {_MODEL_HINT}"
        )
    for path in (config, checkpoint):
        if not path.is_file():
            raise ModelLoadError(f"groundingdino-original: {str(path)!r} does not exist")
    return config, checkpoint


class OriginalGroundingDinoBackend:
    """``DetectorBackend`` over the original package; one image per forward pass."""

    name = BACKEND_NAME

    def __init__(self, options: DetectorOptions | None = None) -> None:
        self.options = options or DetectorOptions()
        self._model: Any = None
        self._transform: Any = None

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.options.model,
            "box_threshold": self.options.box_threshold,
            "text_threshold": self.options.text_threshold,
            "nms_iou": self.options.nms_iou,
            "device": self.options.device,
        }

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        try:
            import groundingdino.datasets.transforms as gdino_transforms
            from groundingdino.models import build_model
            from groundingdino.util.slconfig import SLConfig
            from groundingdino.util.utils import clean_state_dict
        except ImportError as exc:
            raise ConfigError(f"{_INSTALL_HINT} ({exc})") from exc
        config_path, checkpoint_path = resolve_model_files(self.options.model)
        from safetensors.torch import load_file

        args = SLConfig.fromfile(str(config_path))  # executes the config file
        args.device = self.options.device
        model = build_model(args)
        state = load_file(str(checkpoint_path))
        _, unexpected = model.load_state_dict(clean_state_dict(state), strict=False)
        if unexpected:
            raise ModelLoadError(
                f"groundingdino-original: checkpoint {str(checkpoint_path)!r} does not match "
                f"the config: unexpected keys {sorted(unexpected)[:5]}"
            )
        self._model = model.eval().to(self.options.device)
        # The original inference preprocessing (groundingdino.util.inference.load_image).
        self._transform = gdino_transforms.Compose(
            [
                gdino_transforms.RandomResize([800], max_size=1333),
                gdino_transforms.ToTensor(),
                gdino_transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
            ]
        )

    def detect(self, items: Sequence[DetectItem]) -> list[list[Detection]]:
        import torch

        found: list[list[Detection]] = []
        for item in items:
            texts = [p.text for p in item.phrases if is_groundable(p.text)]
            indices = [i for i, p in enumerate(item.phrases) if is_groundable(p.text)]
            if not texts or not item.images:
                found.append([])
                continue
            self._ensure_loaded()
            prompt, char_spans = build_prompt(texts)
            offsets = self._model.tokenizer(prompt, return_offsets_mapping=True)["offset_mapping"]
            spans = phrase_token_spans(offsets, char_spans, MAX_TEXT_TOKENS)
            detections: list[Detection] = []
            for image_index, image in enumerate(item.images):
                pixels, _ = self._transform(image, None)
                device = torch.device(self.options.device)
                autocast = (
                    torch.autocast("cuda", dtype=torch.bfloat16)
                    if device.type == "cuda"
                    else contextlib.nullcontext()
                )
                with torch.inference_mode(), autocast:
                    outputs = self._model(pixels[None].to(device), captions=[prompt])
                detections += phrase_detections(
                    outputs["pred_boxes"][0],  # (N, 4) normalized cxcywh
                    outputs["pred_logits"][0],  # (N, 256) raw token logits
                    spans,
                    texts,
                    (image.width, image.height),
                    image_index=image_index,
                    box_threshold=self.options.box_threshold,
                    text_threshold=self.options.text_threshold,
                    backend=BACKEND_NAME,
                    phrase_indices=indices,  # the sample's own phrase numbers
                )
            found.append(nms_detections(detections, self.options.nms_iou))
        return found
