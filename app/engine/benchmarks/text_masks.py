"""`bench` numbers for text-prompted masks (SAM 3).

By default the tiny SAM 3 runs through the real engine on the bench photo: what the app itself
costs around the model (photo in, instance masks out at full size) and how the automatic furniture
masks compare with SAM 3 against Grounding DINO + SAM on the same photo. `--sam3-real` adds SAM 3 at
its real size with random weights (time does not depend on weight values): the image encoder and
one phrase, on the GPU when there is one (minutes and ~5 GB of memory on a CPU).
"""

from __future__ import annotations

import time

import numpy as np

from app.engine.automask.text_masks import instance_object
from app.engine.requests import AutoMaskRequest, TextSegmentRequest
from app.engine.tiny.sam3 import sam3_config
from app.engine.tiny.tokenizer import write_tokenizer
from app.engine.vision.sam3 import Instance, Sam3Segmenter, sam3_dtype
from app.engine.worker import Engine


def bench_text_masks(photo: np.ndarray, real: bool = False) -> dict:

    out: dict = {}
    engine = Engine(models="tiny", device="cpu")
    try:
        t0 = time.perf_counter()
        first = engine.run(TextSegmentRequest(photo=photo, text="sofa, chair", threshold=0.0, models="tiny"))
        t1 = time.perf_counter()
        engine.run(TextSegmentRequest(photo=photo, text="rug", threshold=0.0, models="tiny"))
        t2 = time.perf_counter()
        out.update(text_select_tiny_first_s=round(t1 - t0, 3), text_select_tiny_again_s=round(t2 - t1, 3),
                   text_select_tiny_instances=len(first.objects))
        for name, fields in (("sam3", {"model_set": "tiny-sam3", "method": "sam3"}),
                             ("detector", {"model_set": "tiny", "method": "detector", "text_threshold": 0.0})):
            engine.run(AutoMaskRequest(photo=photo[:64, :64].copy(), models="tiny", box_threshold=0.0, **fields))
            t = time.perf_counter()
            engine.run(AutoMaskRequest(photo=photo, models="tiny", box_threshold=0.0, **fields))
            out[f"automask_furniture_tiny_{name}_s"] = round(time.perf_counter() - t, 3)
    finally:
        engine.shutdown()
    out["text_mask_ms_per_instance"] = _mask_cost(photo.shape[:2])
    if real:
        out.update(_real_size(photo))
    return out


def _mask_cost(shape: tuple[int, int], n: int = 20) -> float:
    """Milliseconds to turn one instance's 288 x 288 logits (facebook/sam3's size) into a photo-sized object."""
    import cv2


    rng = np.random.default_rng(0)
    h, w = shape
    insts = []
    for _ in range(n):
        logits = np.full((288, 288), -5.0, np.float32)
        x, y = (int(v) for v in rng.integers(0, 230, 2))
        size = int(rng.integers(20, 58))
        cv2.ellipse(logits, (x + size // 2, y + size // 2), (size // 2, size // 3), 0, 0, 360, 5.0, -1)
        insts.append(Instance("chair", 0.9, (x / 288 * w, y / 288 * h, (x + size) / 288 * w, (y + size) / 288 * h),
                              logits))
    t = time.perf_counter()
    for inst in insts:
        instance_object(inst, shape)
    return round((time.perf_counter() - t) / n * 1000, 2)


def _real_size(photo: np.ndarray) -> dict:
    import tempfile
    from pathlib import Path

    import torch
    from transformers import CLIPTokenizer, Sam3ImageProcessor, Sam3Model, Sam3Processor


    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = Sam3Model(sam3_config(tiny=False)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer(Path(tmp))  # any CLIP tokenizer: its ids fit the real 49408-token encoder
        tokenizer = CLIPTokenizer.from_pretrained(tmp)
    seg = Sam3Segmenter(model, Sam3Processor(image_processor=Sam3ImageProcessor(), tokenizer=tokenizer), device,
                        sam3_dtype(device))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    seg.embed(photo)
    sync()
    t1 = time.perf_counter()
    seg.find(photo, ["sofa"], threshold=0.5)
    sync()
    t2 = time.perf_counter()
    out = {"sam3_real_device": device, "sam3_real_dtype": str(seg.dtype).replace("torch.", ""),
           "sam3_real_params_m": round(sum(p.numel() for p in model.parameters()) / 1e6),
           "sam3_real_embed_s": round(t1 - t0, 3), "sam3_real_phrase_s": round(t2 - t1, 3)}
    if device == "cuda":
        out["sam3_real_peak_vram_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out
