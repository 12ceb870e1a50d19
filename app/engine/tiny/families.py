"""Tiny random-weight twins of the big families and of the fast-mode LoRAs, in the real on-disk layout.

Built from the real classes with tiny
configs, the way diffusers' own tests build dummy components, then written the way
the real downloads lie on disk and loaded back by the real loading code:
- FLUX.1 Fill: a diffusers pipeline folder whose transformer weights are a GGUF
  file (Q8_0 blocks, as the quantized downloads are), a FLUX ControlNet folder, and
  a turbo LoRA in diffusers' `transformer.*.lora_A/B` layout.
- Z-Image Turbo: a pipeline folder (Qwen3 text encoder, byte-level BPE tokenizer with
  a chat template) and the union ControlNet as one .safetensors file, as it ships.
- LCM-LoRAs for SD1.5 / SDXL in the kohya `lora_unet_*.lora_down/lora_up/alpha` layout.
"""

from __future__ import annotations

from pathlib import Path

from app.engine.tiny.tokenizer import text_config, write_tokenizer

LORA_RANK = 4

CATALOG = """
[sets.best]
title = "Tiny test models (FLUX.1 Fill + ControlNet layout, GGUF transformer)"
arch = "flux"
native = {native}
min_vram_gb = 0
recommend = false
inpaint = "tiny-flux-fill"
transformer = "tiny-flux-fill-q8"
controlnet_union = "tiny-flux-controlnet-union"
sam = "tiny-sam"
depth = "tiny-depth"
detector = "tiny-grounding-dino"
segmenter = "tiny-oneformer-ade"
erase = "tiny-erase"
steps = 50
guidance = 30.0
fast_lora = "tiny-flux-turbo-lora"
fast_steps = 8
fast_guidance = 30.0
fast_lora_scale = 1.0

[sets.best-commercial]
title = "Tiny test models (Z-Image Turbo + union ControlNet layout)"
arch = "zimage"
native = {native}
min_vram_gb = 0
recommend = false
inpaint = "tiny-zimage-turbo"
controlnet_union = "tiny-zimage-controlnet-union"
sam = "tiny-sam"
depth = "tiny-depth"
detector = "tiny-grounding-dino"
segmenter = "tiny-oneformer-ade"
erase = "tiny-erase"
steps = 9
guidance = 0.0
distilled = true

[models.tiny-flux-fill]
role = "inpaint"
arch = "flux"
path = "inpaint/tiny-flux-fill"
license = "test"

[models.tiny-flux-fill-q8]
role = "transformer"
arch = "flux"
path = "transformer/tiny-flux-fill-Q8_0.gguf"
license = "test"

[models.tiny-flux-controlnet-union]
role = "controlnet-union"
arch = "flux"
path = "controlnet/tiny-flux-controlnet-union"
license = "test"

[models.tiny-flux-turbo-lora]
role = "lora"
arch = "flux"
path = "loras/tiny-flux-turbo.safetensors"
license = "test"

[models.tiny-zimage-turbo]
role = "inpaint"
arch = "zimage"
path = "inpaint/tiny-zimage-turbo"
license = "test"

[models.tiny-zimage-controlnet-union]
role = "controlnet-union"
arch = "zimage"
path = "controlnet/tiny-zimage-controlnet-union.safetensors"
license = "test"

[models.tiny-lcm-lora-sd15]
role = "lora"
arch = "sd15"
path = "loras/tiny-lcm-lora-sd15.safetensors"
license = "test"

[models.tiny-lcm-lora-sdxl]
role = "lora"
arch = "sdxl"
path = "loras/tiny-lcm-lora-sdxl.safetensors"
license = "test"
"""


def write_families(root: Path, native: int) -> None:
    import torch

    torch.manual_seed(1)
    write_flux(root)
    write_zimage(root)


# ---- shared pieces ---------------------------------------------------------------


def flux_vae(native: int = 128):
    """FLUX's VAE shape: 16 latent channels, 8x down, no quant convs, its shift and scale."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16, 16, 16), in_channels=3, out_channels=3, latent_channels=16,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1, norm_num_groups=4, sample_size=native, use_quant_conv=False,
        use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611,
    )


def t5_tokenizer(path: Path):
    """A T5 (unigram, sentencepiece-style) tokenizer over single characters."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5TokenizerFast

    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:-'\"!?()/"
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)] + [(c, -2.0) for c in chars]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    t5 = T5TokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=0)
    t5.save_pretrained(path)
    return T5TokenizerFast.from_pretrained(path)


def qwen_tokenizer(path: Path):
    """A byte-level BPE tokenizer with Qwen's special tokens and chat template."""
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {c: i for i, c in enumerate(bytes_to_unicode().values())}
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        vocab[special] = len(vocab)
    tok = Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tok.save_pretrained(path)
    return Qwen2Tokenizer.from_pretrained(path)


def write_gguf(state_dict: dict, path: Path, arch: str) -> None:
    """Tensors as a GGUF file: 2-D weights whose rows fit Q8_0 blocks are quantized, the rest stay F32."""
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    q8 = gguf.GGMLQuantizationType.Q8_0
    block = gguf.GGML_QUANT_SIZES[q8][0]
    for name, tensor in state_dict.items():
        array = tensor.detach().float().cpu().numpy()
        if array.ndim == 2 and array.shape[-1] % block == 0:
            writer.add_tensor(name, gguf.quants.quantize(array, q8), raw_dtype=q8)
        else:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_peft_lora(model, targets: list[str], path: Path, prefix: str, kohya: bool = False) -> None:
    """A random LoRA for `model`'s `targets`, in diffusers' layout or (kohya=True) the kohya one."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict
    from safetensors.torch import save_file

    model.add_adapter(LoraConfig(r=LORA_RANK, lora_alpha=LORA_RANK, target_modules=targets, init_lora_weights=False))
    state = {k: v.detach().clone().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    model.delete_adapters("default") if hasattr(model, "delete_adapters") else None
    out = {}
    for key, value in state.items():
        if not kohya:
            out[f"{prefix}.{key}"] = value
            continue
        module, part = key.rsplit(".lora_", 1)  # "down_blocks.1....to_q", "A.weight"
        stem = f"lora_{prefix}_" + module.replace(".", "_")
        out[f"{stem}.lora_{'down' if part.startswith('A') else 'up'}.weight"] = value
        out[f"{stem}.alpha"] = torch.tensor(float(LORA_RANK))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path))


def trained_looking(controlnet):
    """A ControlNet's output projections start at zero (so training starts from the base model); a trained
    one's are not. Random values there make the tiny ControlNet steer the result, as a real one does."""
    import torch

    with torch.no_grad():
        for p in controlnet.parameters():
            if not p.any():
                p.normal_(std=0.05)
    return controlnet


# ---- FLUX.1 Fill -----------------------------------------------------------------

_FLUX_DIMS = dict(patch_size=1, num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
                  joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8], guidance_embeds=True)


def write_flux(root: Path) -> None:
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        FluxControlNetModel,
        FluxFillPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel

    folder = root / "inpaint" / "tiny-flux-fill"
    write_tokenizer(folder / "tokenizer")
    tokenizer_2 = t5_tokenizer(folder / "tokenizer_2")
    # Fill's input: packed latents (64) + packed masked-image latents (64) + the 8x8 mask per packed pixel (256)
    transformer = FluxTransformer2DModel(in_channels=384, out_channels=64, **_FLUX_DIMS)
    t5 = T5EncoderModel(T5Config(vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                 num_heads=4, relative_attention_num_buckets=8, decoder_start_token_id=0))
    pipe = FluxFillPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=flux_vae(), text_encoder=CLIPTextModel(text_config()),
        tokenizer=CLIPTokenizer.from_pretrained(folder / "tokenizer"), text_encoder_2=t5,
        tokenizer_2=tokenizer_2, transformer=transformer,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    # Like the real download: the transformer's weights come as a GGUF file, the folder keeps its config
    for p in (folder / "transformer").glob("*.safetensors"):
        p.unlink()
    write_gguf(transformer.state_dict(), root / "transformer" / "tiny-flux-fill-Q8_0.gguf", "flux")
    controlnet = trained_looking(FluxControlNetModel(in_channels=64, **_FLUX_DIMS))
    controlnet.save_pretrained(root / "controlnet" / "tiny-flux-controlnet-union", safe_serialization=True)
    write_peft_lora(transformer, ["to_q", "to_k", "to_v", "to_out.0"], root / "loras" / "tiny-flux-turbo.safetensors",
                    "transformer")


# ---- Z-Image Turbo ---------------------------------------------------------------

_ZIMAGE_DIMS = dict(all_patch_size=(2,), all_f_patch_size=(1,), dim=32, n_refiner_layers=1, n_heads=2, n_kv_heads=2,
                    norm_eps=1e-5, qk_norm=True)


def write_zimage(root: Path) -> None:
    import torch
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        ZImageControlNetModel,
        ZImagePipeline,
        ZImageTransformer2DModel,
    )
    from safetensors.torch import save_file
    from transformers import Qwen3Config, Qwen3Model

    folder = root / "inpaint" / "tiny-zimage-turbo"
    tokenizer = qwen_tokenizer(folder / "tokenizer")
    transformer = ZImageTransformer2DModel(in_channels=16, n_layers=2, cap_feat_dim=16, rope_theta=256.0,
                                           t_scale=1000.0, axes_dims=[8, 4, 4], axes_lens=[256, 32, 32],
                                           **_ZIMAGE_DIMS)
    with torch.no_grad():  # made with torch.empty: give them values so every machine writes the same model
        transformer.x_pad_token.normal_()
        transformer.cap_pad_token.normal_()
    encoder = Qwen3Model(Qwen3Config(hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     num_key_value_heads=2, head_dim=8, vocab_size=len(tokenizer),
                                     max_position_embeddings=512))
    pipe = ZImagePipeline(scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=flux_vae(), text_encoder=encoder,
                          tokenizer=tokenizer, transformer=transformer)
    pipe.save_pretrained(folder, safe_serialization=True)
    # The union ControlNet (2.1 layout: control noise refiner, inpaint inputs = guide 16 + mask 1 + image 16)
    controlnet = trained_looking(ZImageControlNetModel(
        control_layers_places=[0], control_refiner_layers_places=[0], control_in_dim=33,
        add_control_noise_refiner="control_noise_refiner", **_ZIMAGE_DIMS))
    state = {k: v.contiguous() for k, v in controlnet.state_dict().items()}
    path = root / "controlnet" / "tiny-zimage-controlnet-union.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))


# ---- LCM-LoRAs for the SD layouts --------------------------------------------------


def write_sd_fast_loras(root: Path) -> None:
    from diffusers import UNet2DConditionModel

    for arch in ("sd15", "sdxl"):
        unet = UNet2DConditionModel.from_pretrained(root / "inpaint" / f"tiny-{arch}-inpainting" / "unet")
        write_peft_lora(unet, ["to_q", "to_k", "to_v", "to_out.0"], root / "loras" / f"tiny-lcm-lora-{arch}.safetensors",
                        "unet", kohya=True)

