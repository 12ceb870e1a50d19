"""What a weights file is, from its safetensors header alone (no weights are read).

A safetensors file starts with an 8-byte little-endian length and a JSON
header naming every tensor with its dtype, shape and byte range. That is
enough to tell a full SD1.5 / SDXL checkpoint from a LoRA, a ControlNet or
something the app cannot use, whether it is an inpainting model (9 input
channels), and whether a diffusers config folder fits its shapes.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from app.engine.models.entries import is_config_folder
from app.engine.models.lpips_shapes import lpips_kind
from app.errors import UserError

MAX_HEADER = 100 * 1024 * 1024  # real headers are < 2 MB; refuse absurd ones before reading them

UNET = "model.diffusion_model."
SDXL_TEXT2 = "conditioner.embedders.1.model."
SDXL_TEXT1 = "conditioner.embedders.0.transformer."
SD15_TEXT = "cond_stage_model.transformer."
SD2_TEXT = "cond_stage_model.model."
CONTEXT_DIMS = {768: "sd15", 1024: "sd2", 2048: "sdxl"}
# LaMa's generator (big-lama): "model.1.ffc.convl2l.weight" is its first convolution; converted
# files keep the original "generator." prefix, or a wrapper's "model." in front.
LAMA_FIRST = re.compile(r"^(generator\.|model\.)?model\.1\.ffc\.convl2l\.weight$")
LPIPS_KINDS = {"lpips-backbone": "LPIPS backbone (AlexNet ImageNet features)", "lpips-heads": "LPIPS linear heads"}


@dataclass
class FileInfo:
    path: Path
    kind: str  # checkpoint, lora, controlnet, vae, sam, diffusers-unet, unknown
    arch: str | None  # sd15, sdxl, or None when unknown / unsupported
    tensors: int = 0
    inpainting: bool = False
    in_channels: int | None = None
    model_channels: int | None = None  # conv_in output channels (320 for SD1.5/SDXL)
    context_dim: int | None = None  # cross-attention width (768 SD1.5, 2048 SDXL)
    text_dims: tuple[int, ...] = ()  # text encoder widths in the file
    has_vae: bool = False
    has_text: bool = False
    sam_type: str | None = None
    problem: str | None = None  # why the app cannot use it, when it cannot
    metadata: dict = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        names = {"sd15": "SD1.5", "sdxl": "SDXL"}
        arch = names.get(self.arch or "", self.arch or "unknown architecture")
        if self.kind == "checkpoint":
            what = f"{arch} {'inpainting ' if self.inpainting else ''}checkpoint"
        elif self.kind == "lora":
            what = f"{arch} LoRA"
        elif self.kind == "sam":
            what = f"Segment Anything ({self.sam_type})"
        elif self.kind == "erase":
            what = "an erase model (LaMa)"
        elif self.kind in LPIPS_KINDS:
            what = LPIPS_KINDS[self.kind]
        elif self.kind == "unknown":
            what = "an unrecognised file"
        else:
            what = f"{arch} {self.kind}"
        return what + (f" - {self.problem}" if self.problem else "")


DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def code_kind(path: Path) -> str | None:
    """'TorchScript' or 'pickle' for files that carry code or objects (loading them can run it), else None.
    A torch.save .pth is a 'pickle (zip)': safe only through torch.load(weights_only=True)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        return "TorchScript" if any("/code/" in n for n in names) else "pickle (zip)"
    return "pickle" if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") else None


def not_safetensors(path: Path, why: str) -> UserError:
    kind = code_kind(path)
    if kind:
        return UserError(f"{path}: a {kind} file, not .safetensors; it can run code when loaded, so RoomStager "
                         f"does not load it (nothing in it was run)")
    return UserError(f"{path}: not a readable .safetensors file ({why})")


def _damaged(path: Path, what: str) -> UserError:
    return UserError(f"{path}: damaged .safetensors header ({what}); download or copy the file again")


def _check_tensor(path: Path, name: str, spec) -> int:
    """The end offset of one tensor entry, after checking its dtype, shape and byte range agree."""
    if not isinstance(spec, dict):
        raise _damaged(path, f"tensor {name!r} is not described")
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                            for d in shape)):
        raise _damaged(path, f"tensor {name!r} has no valid shape")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets) and 0 <= offsets[0] <= offsets[1]):
        raise _damaged(path, f"tensor {name!r} has no valid byte range")
    count = 1
    for d in shape:
        count *= d
    if dtype in DTYPE_BYTES and count * DTYPE_BYTES[dtype] != offsets[1] - offsets[0]:
        raise _damaged(path, f"tensor {name!r}: {dtype} {shape} does not fill its byte range")
    if not isinstance(dtype, str):
        raise _damaged(path, f"tensor {name!r} has no dtype")
    return offsets[1]


def read_header(path: Path) -> tuple[dict, dict]:
    """(tensors, metadata) of a safetensors file; UserError naming the file when it is not a valid one."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ValueError("file too short")
            (n,) = struct.unpack("<Q", raw)
            if n < 2 or n > MAX_HEADER or n + 8 > size:
                raise ValueError("bad header length")
            header = json.loads(f.read(n).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise not_safetensors(path, str(exc)) from None
    if not isinstance(header, dict):
        raise UserError(f"{path}: not a .safetensors file (header is not a table)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _damaged(path, "its metadata is not a table of texts")
    end = max((_check_tensor(path, name, spec) for name, spec in header.items()), default=0)
    if 8 + n + end > size:
        raise UserError(f"{path}: the file is truncated ({size} bytes, header says {8 + n + end}): "
                        f"download or copy it again")
    return header, metadata


def inspect_file(path: Path) -> FileInfo:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".pth", ".pt"):
        return inspect_sam(path)
    if suffix != ".safetensors":
        if suffix not in (".ckpt", ".bin", ".pkl"):
            return FileInfo(path, "unknown", None, problem=(
                f"not a model file RoomStager reads ({suffix or 'no suffix'}): import a .safetensors model "
                f"or a SAM .pth checkpoint"))
        return FileInfo(path, "pickle", None, problem=(
            f"{suffix} files can run code when loaded; RoomStager only loads .safetensors for diffusion "
            f"weights. Convert it to .safetensors in the tool it came from, or download the catalog's model."))
    header, metadata = read_header(path)
    return classify(path, header, metadata)


def classify(path: Path, header: dict, metadata: dict | None = None) -> FileInfo:
    keys = list(header)
    shape = {k: v["shape"] for k, v in header.items()}
    info = FileInfo(path, "unknown", None, tensors=len(keys), metadata=dict(metadata or {}))

    def any_key(pred) -> bool:
        return any(pred(k) for k in keys)

    lpips = lpips_kind(shape)
    if lpips:
        info.kind = lpips
        return info
    if any_key(_is_lora_key):
        return _classify_lora(info, keys, shape)
    if any_key(lambda k: k.startswith(("double_blocks.", "joint_blocks.", "model.diffusion_model.double_blocks",
                                       "model.diffusion_model.joint_blocks", "transformer_blocks.0.attn.add_q_proj"))):
        info.kind, info.problem = "checkpoint", "a FLUX / SD3 transformer model: the app uses SD1.5 and SDXL models"
        return info
    if any_key(lambda k: k.startswith("control_model.") or k.startswith("controlnet_cond_embedding.")
               or k.startswith("input_hint_block.")):
        info.kind = "controlnet"
        info.context_dim = _context_dim(keys, shape)
        info.arch = CONTEXT_DIMS.get(info.context_dim or 0)
        info.problem = ("single-file ControlNets are not imported yet: use `models download` for the "
                        "catalog's ControlNets")
        return info
    if any_key(lambda k: k.startswith(UNET)):
        return _classify_checkpoint(info, keys, shape)
    if any_key(lambda k: bool(LAMA_FIRST.match(k))):
        info.kind = "erase"
        return info
    if any_key(lambda k: k.startswith(("conv_in.", "down_blocks."))) and any_key(lambda k: "attn2.to_k" in k):
        info.kind, info.problem = "diffusers-unet", "a diffusers UNet file alone: import the whole model folder"
        return info
    if any_key(lambda k: k.startswith(("encoder.down.", "first_stage_model.", "decoder.up"))):
        info.kind, info.problem = "vae", "a VAE alone: RoomStager uses the VAE inside the checkpoint"
        return info
    info.problem = "not a Stable Diffusion checkpoint or LoRA the app recognises"
    return info


# ---- checkpoints ------------------------------------------------------------------


def _context_dim(keys, shape) -> int | None:
    for k in keys:
        if "attn2.to_k.weight" in k or re.search(r"attn2[._]to_k[._]weight$", k):
            return int(shape[k][-1])
    return None


def _classify_checkpoint(info: FileInfo, keys, shape) -> FileInfo:
    info.kind = "checkpoint"
    conv_in = UNET + "input_blocks.0.0.weight"
    if conv_in in shape:
        info.model_channels, info.in_channels = int(shape[conv_in][0]), int(shape[conv_in][1])
        info.inpainting = info.in_channels == 9
    info.context_dim = _context_dim(keys, shape)
    info.has_vae = any(k.startswith("first_stage_model.") for k in keys)
    text_dims = []
    for prefix, emb in ((SD15_TEXT, "text_model.embeddings.token_embedding.weight"),
                        (SDXL_TEXT1, "text_model.embeddings.token_embedding.weight"),
                        (SDXL_TEXT2, "token_embedding.weight"),
                        (SD2_TEXT, "token_embedding.weight")):
        if prefix + emb in shape:
            text_dims.append(int(shape[prefix + emb][1]))
    info.text_dims = tuple(text_dims)
    info.has_text = bool(text_dims)
    has = {p: any(k.startswith(p) for k in keys) for p in (SDXL_TEXT1, SDXL_TEXT2, SD15_TEXT, SD2_TEXT)}
    adm = UNET + "label_emb.0.0.weight" in shape
    if has[SDXL_TEXT2] and has[SDXL_TEXT1]:
        info.arch = "sdxl"
    elif any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        info.problem = "an SDXL refiner: the app needs an SDXL base or inpainting model"
    elif has[SD2_TEXT] or info.context_dim == 1024:
        info.problem = "a Stable Diffusion 2.x model: the app uses SD1.5 and SDXL models"
    elif adm and info.context_dim not in (None, 768):
        info.arch = "sdxl"
    elif has[SD15_TEXT] or info.context_dim == 768:
        info.arch = "sd15"
    else:
        info.problem = "the architecture could not be recognised (neither SD1.5 nor SDXL)"
    if info.arch and not info.has_text:
        info.problem = "the checkpoint has no text encoder: RoomStager needs a full checkpoint"
    elif info.arch and not info.has_vae:
        info.problem = "the checkpoint has no VAE: RoomStager needs a full checkpoint"
    elif info.in_channels not in (None, 4, 9) and info.arch:
        info.problem = f"a UNet with {info.in_channels} input channels (expected 4 or 9)"
    if info.arch == "sdxl" and len(info.text_dims) < 2 and not info.problem:
        info.problem = "an SDXL checkpoint without both text encoders"
    return info


# ---- LoRAs ------------------------------------------------------------------------

_LORA_MARKS = ("lora_down", "lora_up", "lora_A", "lora_B", "lora.down", "lora.up", "lora_mid", ".alpha",
               "hada_w1", "lokr_w1")


def _is_lora_key(key: str) -> bool:
    return key.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")) or any(m in key for m in _LORA_MARKS)


def _classify_lora(info: FileInfo, keys, shape) -> FileInfo:
    info.kind = "lora"
    sdxl_marks = ("lora_te2_", "text_encoder_2.", "te2.", "add_embedding", "label_emb", "conditioner.embedders.1")
    if any(any(m in k for m in sdxl_marks) for k in keys):
        info.arch = "sdxl"
        return info
    # Width of the cross-attention input: the LoRA "down" / "A" matrix of attn2's key projection.
    for k in keys:
        if re.search(r"attn2[._]to_k[._](lora[._]down|lora_A)", k) or re.search(r"attn2_to_k\.lora_down", k):
            info.context_dim = int(shape[k][-1])
            break
    by_dim = CONTEXT_DIMS.get(info.context_dim or 0)
    if by_dim == "sd2":
        info.problem = "a Stable Diffusion 2.x LoRA: the app uses SD1.5 and SDXL models"
        return info
    if by_dim:
        info.arch = by_dim
        return info
    # Structure: every SDXL attention has two or more transformer blocks, SD1.5's exactly one.
    depths = {int(m.group(1)) for k in keys if (m := re.search(r"transformer_blocks[._](\d+)", k))}
    if depths:
        info.arch = "sdxl" if max(depths) >= 1 else "sd15"
        return info
    # kohya names SD1.5 blocks the diffusers way and SDXL blocks the original way
    if any(k.startswith(("lora_unet_input_blocks", "lora_unet_output_blocks", "lora_unet_middle_block")) for k in keys):
        info.arch = "sdxl"
    elif any(k.startswith("lora_unet_down_blocks") or k.startswith("lora_te_") for k in keys):
        info.arch = "sd15"
    else:
        info.problem = "the LoRA's base model could not be recognised: pass --arch sd15 or --arch sdxl"
    return info


# ---- SAM --------------------------------------------------------------------------

SAM_WIDTHS = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}


def inspect_sam(path: Path) -> FileInfo:
    """A Segment Anything .pth, read with weights_only=True (no code can run) and memory-mapped."""
    # heavy: loaded on first use, not when the app starts
    import torch

    info = FileInfo(path, "sam", None)
    if code_kind(path) in ("TorchScript", "pickle"):  # a raw pickle or a program, not torch.save weights
        info.kind, info.problem = "unknown", f"a {code_kind(path)} file, which can run code: not loaded"
        return info
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:  # the legacy (pre-zip) format cannot be memory-mapped: small files use it
            if "mmap" not in str(exc):
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors: nothing was run
        info.kind, info.problem = "unknown", f"not a weights file ({exc.__class__.__name__}); nothing in it was run"
        return info
    if not isinstance(state, dict):
        info.kind, info.problem = "unknown", "not a state dict"
        return info
    lpips = lpips_kind({k: list(v.shape) for k, v in state.items() if hasattr(v, "shape")})
    if lpips:
        info.kind, info.tensors = lpips, len(state)
        return info
    key = "image_encoder.patch_embed.proj.weight"
    if key not in state or "mask_decoder.iou_prediction_head.layers.0.weight" not in state:
        info.kind = "unknown"
        info.problem = ("not a Segment Anything checkpoint (only SAM and LPIPS .pth files are accepted besides "
                        "safetensors)")
        return info
    width = int(state[key].shape[0])
    blocks = {int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks.")}
    info.tensors = len(state)
    info.sam_type = SAM_WIDTHS.get(width) if len(blocks) in (12, 24, 32) else None
    if info.sam_type is None:
        info.problem = (f"a SAM image encoder of width {width} and depth {len(blocks)}: only the standard "
                        f"ViT-B/L/H sizes can be imported")
    return info


# ---- config folders ---------------------------------------------------------------


def config_matches(info: FileInfo, config_dir: Path) -> bool:
    """Whether a diffusers config folder describes this checkpoint's shapes (so loading it will work)."""
    try:
        unet = json.loads((Path(config_dir) / "unet" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.model_channels is not None and int(unet.get("block_out_channels", [0])[0]) != info.model_channels:
        return False
    if info.context_dim is not None and int(unet.get("cross_attention_dim", 0)) != info.context_dim:
        return False
    is_sdxl_config = unet.get("addition_embed_type") == "text_time"
    if (info.arch == "sdxl") != is_sdxl_config:
        return False
    widths = []
    for sub in ("text_encoder", "text_encoder_2"):
        try:
            widths.append(int(json.loads((Path(config_dir) / sub / "config.json").read_text(encoding="utf-8"))
                              ["hidden_size"]))
        except (OSError, ValueError, KeyError):
            pass
    if info.text_dims and tuple(widths) != tuple(info.text_dims):
        return False

    return is_config_folder(Path(config_dir))
