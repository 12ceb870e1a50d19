"""LaMa's generator, the erase model that pre-fills a de-furnishing hole.

LaMa (Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier Convolutions",
WACV 2022) is a ResNet whose blocks split their channels in two: a local part with
ordinary 3x3 convolutions and a global part convolved in the frequency domain (a "fast
Fourier convolution"), so every pixel sees the whole image from the first block on.
big-lama: 4 input channels (the image with the hole blanked, and the mask), 64 base
channels, 3 downsamplings, 18 blocks with 3/4 of their channels global, a sigmoid out.

The modules are written here, with the parameter names of the published weights, so a
safetensors file of big-lama (or of a smaller model of the same family, like the tiny
test model) loads strictly as data. The sizes are read from the file's own shapes.
The classes are made on first use (`_modules`), so importing the engine loads no torch.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import SimpleNamespace

from app.engine.models.weights import load_tensors
from app.errors import UserError


@functools.cache
def _modules() -> SimpleNamespace:
    """LaMa's modules (made once; torch is heavy and loaded on first use)."""
    # heavy: loaded on first use, not when the app starts
    import torch
    from torch import nn

    def _conv(cin: int, cout: int, kernel: int, stride: int = 1, pad: int = 0) -> nn.Module:
        if not cin or not cout:
            return nn.Identity()  # one side has no channels: the path carries nothing
        return nn.Conv2d(cin, cout, kernel, stride, pad, bias=False, padding_mode="reflect")

    class FourierUnit(nn.Module):
        """A 1x1 convolution on the real and imaginary parts of the image's 2-D spectrum."""

        def __init__(self, channels: int):
            super().__init__()
            self.conv_layer = nn.Conv2d(channels * 2, channels * 2, 1, bias=False)
            self.bn = nn.BatchNorm2d(channels * 2)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, c, h, w = x.shape
            spectrum = torch.fft.rfftn(x.float(), dim=(-2, -1), norm="ortho")  # the FFT wants fp32
            parts = torch.stack((spectrum.real, spectrum.imag), dim=2).reshape(b, c * 2, h, w // 2 + 1)
            parts = self.relu(self.bn(self.conv_layer(parts.to(x.dtype)))).float().reshape(b, c, 2, h, w // 2 + 1)
            out = torch.fft.irfftn(torch.complex(parts[:, :, 0], parts[:, :, 1]), s=(h, w), dim=(-2, -1), norm="ortho")
            return out.to(x.dtype)

    class SpectralTransform(nn.Module):
        """The global branch: squeeze to half the channels, a Fourier unit (with a skip), expand."""

        def __init__(self, cin: int, cout: int):
            super().__init__()
            self.conv1 = nn.Sequential(nn.Conv2d(cin, cout // 2, 1, bias=False), nn.BatchNorm2d(cout // 2),
                                       nn.ReLU(inplace=True))
            self.fu = FourierUnit(cout // 2)
            self.conv2 = nn.Conv2d(cout // 2, cout, 1, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv1(x)
            return self.conv2(x + self.fu(x))

    class FFC(nn.Module):
        """Fast Fourier convolution: local->local, local->global, global->local and global->global paths."""

        def __init__(self, cin: int, cout: int, kernel: int, ratio_in: float, ratio_out: float,
                     stride: int = 1, pad: int = 0):
            super().__init__()
            gin, gout = int(cin * ratio_in), int(cout * ratio_out)
            lin, lout = cin - gin, cout - gout
            self.ratio_out = ratio_out
            self.convl2l = _conv(lin, lout, kernel, stride, pad)
            self.convl2g = _conv(lin, gout, kernel, stride, pad)
            self.convg2l = _conv(gin, lout, kernel, stride, pad)
            self.convg2g = SpectralTransform(gin, gout) if gin and gout else nn.Identity()

        def forward(self, x):
            local, glob = x if isinstance(x, tuple) else (x, 0)
            out_l = self.convl2l(local) + self.convg2l(glob) if self.ratio_out != 1 else 0
            out_g = self.convl2g(local) + self.convg2g(glob) if self.ratio_out != 0 else 0
            return out_l, out_g

    class FFCNormAct(nn.Module):
        """An FFC, then batch norm and ReLU on each of its two outputs."""

        def __init__(self, cin: int, cout: int, kernel: int, ratio_in: float, ratio_out: float,
                     stride: int = 1, pad: int = 0):
            super().__init__()
            self.ffc = FFC(cin, cout, kernel, ratio_in, ratio_out, stride, pad)
            gout = int(cout * ratio_out)
            self.bn_l = nn.BatchNorm2d(cout - gout) if ratio_out != 1 else nn.Identity()
            self.bn_g = nn.BatchNorm2d(gout) if ratio_out != 0 else nn.Identity()
            self.act_l = nn.ReLU(inplace=True) if ratio_out != 1 else nn.Identity()
            self.act_g = nn.ReLU(inplace=True) if ratio_out != 0 else nn.Identity()

        def forward(self, x):
            local, glob = self.ffc(x)
            return self.act_l(self.bn_l(local)), self.act_g(self.bn_g(glob))

    class FFCResnetBlock(nn.Module):
        def __init__(self, dim: int, ratio: float):
            super().__init__()
            self.conv1 = FFCNormAct(dim, dim, 3, ratio, ratio, pad=1)
            self.conv2 = FFCNormAct(dim, dim, 3, ratio, ratio, pad=1)

        def forward(self, x):
            local, glob = x
            dl, dg = self.conv2(self.conv1((local, glob)))
            return local + dl, glob + dg

    class _Join(nn.Module):
        """The two halves back into one tensor before the decoder."""

        def forward(self, x):
            local, glob = x
            return torch.cat((local, glob), dim=1) if torch.is_tensor(glob) else local

    class LamaGenerator(nn.Module):
        """(image Bx3xHxW in [0, 1], mask Bx1xHxW, 1 = hole) -> the filled image; H and W multiples of
        2**downsamplings. Only the hole of the output is meant to be used."""

        def __init__(self, ngf: int = 64, downsamplings: int = 3, blocks: int = 18, ratio: float = 0.75,
                     in_channels: int = 4, out_channels: int = 3):
            super().__init__()
            self.downsamplings = downsamplings
            layers: list[nn.Module] = [nn.ReflectionPad2d(3), FFCNormAct(in_channels, ngf, 7, 0, 0)]
            for i in range(downsamplings):
                last = i == downsamplings - 1
                layers.append(FFCNormAct(ngf * 2**i, ngf * 2 ** (i + 1), 3, 0, ratio if last else 0, stride=2, pad=1))
            width = ngf * 2**downsamplings
            layers += [FFCResnetBlock(width, ratio) for _ in range(blocks)]
            layers.append(_Join())
            for i in range(downsamplings, 0, -1):
                cin, cout = ngf * 2**i, ngf * 2 ** (i - 1)
                layers += [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                           nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Sigmoid()]
            self.model = nn.Sequential(*layers)

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.model(torch.cat((image * (1 - mask), mask), dim=1))

    return SimpleNamespace(LamaGenerator=LamaGenerator, FFC=FFC, FourierUnit=FourierUnit)


def build_lama(**sizes):
    """A randomly initialised LaMa generator (sizes: ngf, downsamplings, blocks, ratio, in/out channels)."""
    return _modules().LamaGenerator(**sizes)


# ---- loading a file -----------------------------------------------------------------

_PREFIXES = ("generator.model.", "model.model.", "model.")  # the original, a wrapper's, ours
_BLOCK = re.compile(r"^model\.(\d+)\.conv1\.ffc\.convl2l\.weight$")


def _generator_keys(state: dict) -> dict:
    """The generator's tensors named as ours ("model.N..."); other parts of a training checkpoint
    (discriminator, losses) are left out."""
    prefix = next((p for p in _PREFIXES if any(k.startswith(p) for k in state)), None)
    if prefix is None:
        return {}
    return {"model." + k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _shape_of(state: dict) -> dict:
    """The generator's sizes, from the tensors' shapes."""
    first = state["model.1.ffc.convl2l.weight"]
    blocks = sorted(int(m.group(1)) for k in state if (m := _BLOCK.match(k)))
    if not blocks:
        raise KeyError("no FFC blocks")
    downsamplings = blocks[0] - 2
    width = int(first.shape[0]) * 2**downsamplings
    local = int(state[f"model.{blocks[0]}.conv1.ffc.convl2l.weight"].shape[0])
    out = max(int(k.split(".")[1]) for k in state if k.endswith(".weight"))
    return {"ngf": int(first.shape[0]), "downsamplings": downsamplings, "blocks": len(blocks),
            "ratio": (width - local) / width, "in_channels": int(first.shape[1]),
            "out_channels": int(state[f"model.{out}.weight"].shape[0])}


def load_lama(path: Path | str, device: str = "cpu"):
    """LaMa from a safetensors file, loaded strictly (every tensor in its place); UserError naming
    the file when it is not one."""
    path = Path(path)
    state = _generator_keys(load_tensors(path, "erase model"))
    try:
        model = build_lama(**_shape_of(state))
        missing, unexpected = model.load_state_dict(state, strict=False)
    except (KeyError, IndexError, ValueError, RuntimeError) as exc:  # RuntimeError: a tensor of the wrong size
        raise UserError(f"{path}: not a LaMa erase model (its tensors do not form LaMa's generator: "
                        f"{str(exc)[:300]})") from None
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # training counters only
    if missing or unexpected:
        names = ", ".join((missing + unexpected)[:3])
        raise UserError(f"{path}: not a LaMa erase model this app can load ({len(missing)} tensors missing, "
                        f"{len(unexpected)} unexpected: {names}…)")
    return model.to(device).eval()
