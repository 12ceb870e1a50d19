"""`python main.py models ...` end to end, the Models window, and a start-up with no network at all."""

from __future__ import annotations

import io
import json
import os
import socket
from contextlib import redirect_stderr, redirect_stdout

import pytest
from models_helpers import fake_safetensors, sha256, write_catalog

CKPT = fake_safetensors({"model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3],
                         "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
                         "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [64, 768],
                         "first_stage_model.decoder.conv_in.weight": [1024]})
SAM = os.urandom(1_500_000)
LORA = fake_safetensors({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [4, 768]})


def cli(*argv):
    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _folder(tmp_path, server, nc=False):
    server.add("/mini.safetensors", CKPT)
    served = server.add("/mini.pth", SAM, delay=0.01)
    return write_catalog(tmp_path / "models", f"""
[sets.mini]
title = "Mini"
arch = "sd15"
min_vram_gb = 4
inpaint = "mini-ckpt"
sam = "mini-sam"

[models.mini-ckpt]
role = "inpaint"
arch = "sd15"
path = "checkpoints/mini.safetensors"
url = "{server.url('/mini.safetensors')}"
sha256 = "{sha256(CKPT)}"
license = "creativeml-openrail-m"
commercial_use = true

[models.mini-sam]
role = "sam"
path = "sam/mini.pth"
url = "{server.url('/mini.pth')}"
sha256 = ""
license = "{'cc-by-nc-4.0' if nc else 'apache-2.0'}"
commercial_use = {'false' if nc else 'true'}
"""), served


def test_cli_download_list_verify_remove(tmp_path, file_server):
    models, _ = _folder(tmp_path, file_server)
    code, out, _ = cli("models", "list", "--models", str(models), "--json", "--vram", "8")
    listing = json.loads(out)
    assert code == 0 and listing["recommended_set"] == "standard" and listing["installed_sets"] == []
    mini = next(s for s in listing["sets"] if s["name"] == "mini")
    assert mini["missing"] == ["mini-ckpt", "mini-sam"]

    code, out, err = cli("models", "download", "mini", "--models", str(models), "--json")
    assert code == 0, err
    assert [d["name"] for d in json.loads(out)["installed"]] == ["mini-ckpt", "mini-sam"]
    assert "mini" in json.loads(out)["installed_sets"]
    code, out, _ = cli("models", "list", "--models", str(models))
    assert code == 0 and "mini" in out and "installed" in out

    code, out, _ = cli("models", "verify", "--models", str(models), "--json")
    assert code == 0 and json.loads(out)["ok"]
    sam = models / "sam" / "mini.pth"
    data = bytearray(sam.read_bytes())
    data[1000] ^= 0xFF
    sam.write_bytes(bytes(data))
    code, out, _ = cli("models", "verify", "mini-sam", "--models", str(models), "--json")
    assert code == 1 and "checksum" in json.loads(out)["results"][0]["problems"][0]

    code, out, _ = cli("models", "remove", "mini", "--models", str(models), "--json")
    assert code == 0
    assert not sam.exists() and not (models / "checkpoints" / "mini.safetensors").exists()
    code, _, err = cli("models", "download", "nothing-like-this", "--models", str(models))
    assert code == 2 and "neither a model nor a model set" in err


def test_cli_usage_errors_exit_2():
    assert cli("models")[0] == 2
    assert cli("models", "download")[0] == 2
    assert cli("models", "list", "--models", "/no/such/folder")[0] == 2


def test_dialog_download_cancel_and_resume(qtbot, tmp_path, file_server):
    from app.ui.models_dialog import ModelsDialog

    models, served = _folder(tmp_path, file_server)
    dlg = ModelsDialog(None, models, vram_gb=8.0)
    qtbot.addWidget(dlg)
    assert "Recommended set" in dlg.header.text()
    dlg.select("mini-sam")
    assert dlg.selected_names() == ["mini-sam"]
    assert dlg.download(dlg.selected_names())
    qtbot.waitUntil(lambda: dlg.last_progress is not None and dlg.last_progress.done > 300_000, timeout=10000)
    assert dlg.cancel_button.isEnabled() and not dlg.download_button.isEnabled()
    with qtbot.waitSignal(dlg.job_finished, timeout=10000) as blocker:
        dlg.cancel()
    assert blocker.args[2] == "cancelled"
    assert dlg.catalog.status("mini-sam") == "partial"
    texts = [dlg.models_table.item(r, 5).text() for r in range(dlg.models_table.rowCount())]
    assert "partly downloaded" in texts
    with qtbot.waitSignal(dlg.job_finished, timeout=20000) as blocker:
        dlg.download(["mini-sam"])
    assert blocker.args[2] == "", blocker.args
    assert served.requests[-1]["range"] and served.requests[-1]["range"].startswith("bytes=")
    assert (models / "sam" / "mini.pth").read_bytes() == SAM
    assert "/s" in dlg.last_progress.text() or dlg.last_progress.done == len(SAM)
    assert dlg.catalog.status("mini-sam") == "installed"


def test_dialog_asks_before_non_commercial_and_imports(qtbot, tmp_path, file_server, monkeypatch):
    from app.ui.models_dialog import ModelsDialog

    models, served = _folder(tmp_path, file_server, nc=True)
    dlg = ModelsDialog(None, models, vram_gb=None)
    qtbot.addWidget(dlg)
    asked = []
    monkeypatch.setattr(dlg, "confirm", lambda title, text: asked.append(text) or False)
    assert not dlg.download(["mini-sam"])
    assert asked and "commercial" in asked[0] and served.requests == []
    licence = [dlg.models_table.item(r, 4).text() for r in range(dlg.models_table.rowCount())]
    assert any("non-commercial" in t for t in licence)

    lora = tmp_path / "downloads" / "Cozy Room.safetensors"
    lora.parent.mkdir()
    lora.write_bytes(LORA)
    with qtbot.waitSignal(dlg.job_finished, timeout=10000) as blocker:
        dlg.import_path(lora)
    assert blocker.args[2] == ""
    names = [dlg.models_table.item(r, 0).text() for r in range(dlg.models_table.rowCount())]
    assert "cozy-room" in names and (models / "loras" / "cozy-room.safetensors").is_file()
    with qtbot.waitSignal(dlg.job_finished, timeout=10000) as blocker:
        dlg.import_path(tmp_path / "downloads" / "missing.safetensors")
    assert "no such file" in blocker.args[2] and "no such file" in dlg.status.text()


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to open a connection fails loudly."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_start_up_and_model_resolution_need_no_network(qtbot, tiny_copy, no_network, tmp_path):
    from app.engine import Catalog, StageRequest
    from app.engine.runtime.manager import ModelManager
    from app.ui.models_dialog import ModelsDialog

    catalog = Catalog.load(tiny_copy)
    assert "tiny" in catalog.installed_sets()
    manager = ModelManager(models=str(tiny_copy), device="cpu")
    import numpy as np

    model_set = manager.model_set(StageRequest(photo=np.zeros((8, 8, 3), np.uint8), models=str(tiny_copy),
                                               model_set="tiny"))
    assert model_set.inpaint.is_dir()
    assert cli("models", "list", "--models", str(tiny_copy), "--json", "--vram", "6")[0] == 0
    assert cli("models", "list", "--json")[0] == 0  # the app's own (empty) folder
    dlg = ModelsDialog(None, tmp_path / "fresh", vram_gb=None)
    qtbot.addWidget(dlg)
    assert "No complete model set" in dlg.header.text()
    assert no_network == []
