"""The driver / compute-capability -> torch build table (installer/firstrun/builds.py)."""

from __future__ import annotations

import pytest
from firstrun import builds
from firstrun.builds import Gpu, choose, format_version, parse_version, usable_for

CU126, CU130, CPU = builds.ALL_BUILDS["cu126"], builds.ALL_BUILDS["cu130"], builds.CPU


def gpu(name: str, driver: str, cc: tuple[int, int] | None, memory_mb: int = 8192) -> Gpu:
    return Gpu(name, parse_version(driver), cc, memory_mb)


@pytest.mark.parametrize(
    ("card", "expected", "problem_words"),
    [
        # Ada on a current driver: the stable CUDA 13.0 build.
        (gpu("RTX 4090", "581.57", (8, 9)), "cu130", None),
        (gpu("RTX 2080", "580.97", (7, 5)), "cu130", None),
        # Below R580 but new enough for 12.6 (full support from 561.17).
        (gpu("RTX 4090", "566.36", (8, 9)), "cu126", None),
        (gpu("H100", "575.51", (9, 0)), "cu126", None),
        # 528.33..561.17: 12.6 through CUDA minor-version compatibility.
        (gpu("RTX 4090", "546.33", (8, 9)), "cu126", None),
        # Pascal / Maxwell / Volta exist only in the 12.6 build.
        (gpu("GTX 1080 Ti", "581.57", (6, 1)), "cu126", None),
        (gpu("GTX 980", "566.36", (5, 2)), "cu126", None),
        (gpu("Titan V", "581.57", (7, 0)), "cu126", None),
        # Blackwell needs 13.x, and so R580.
        (gpu("RTX 5090", "581.57", (12, 0)), "cu130", None),
        (gpu("RTX PRO 6000", "581.57", (12, 0)), "cu130", None),
        (gpu("RTX 5090", "576.02", (12, 0)), "cpu", ["576.02", "580.88", "nvidia.com/drivers"]),
        # Too old for every CUDA build.
        (gpu("RTX 4090", "472.12", (8, 9)), "cpu", ["472.12", "561.17", "too old"]),
        (gpu("GTX 980", "527.99", (5, 2)), "cpu", ["527.99", "561.17"]),
        # Cards PyTorch no longer (or not yet) builds for.
        (gpu("GTX 780", "472.12", (3, 5)), "cpu", ["compute capability 3.5", "5.0"]),
        (gpu("Future card", "700.00", (13, 0)), "cpu", ["newer than"]),
    ],
)
def test_table(card: Gpu, expected: str, problem_words: list[str] | None) -> None:
    choice = choose([card])
    assert choice.build.id == expected
    if problem_words is None:
        assert choice.problem is None
        assert choice.uses_gpu
    else:
        assert choice.problem is not None and not choice.uses_gpu
        for words in problem_words:
            assert words in choice.problem


def test_compatibility_range_installs_but_recommends_an_update() -> None:
    choice = choose([gpu("RTX 4090", "546.33", (8, 9))])
    assert choice.build is CU126
    assert any("561.17" in note for note in choice.notes)
    assert not choose([gpu("RTX 4090", "566.36", (8, 9))]).notes


def test_no_nvidia_gpu_is_the_processor_build_without_complaint() -> None:
    choice = choose([])
    assert choice.build is CPU and choice.gpu is None and choice.problem is None


def test_the_card_with_most_memory_decides() -> None:
    cards = [gpu("GTX 1080 Ti", "566.36", (6, 1), 11264), gpu("RTX A6000", "566.36", (8, 6), 49140)]
    assert choose(cards).gpu.name == "RTX A6000"


def test_unknown_compute_capability_tries_widest_build_first_then_the_next() -> None:
    choice = choose([gpu("Quadro P4000", "581.57", None)])
    assert choice.build is CU126
    assert choice.fallbacks == [CU130]
    assert choose([gpu("Quadro P4000", "566.36", None)]).fallbacks == []
    too_old = choose([gpu("Quadro P4000", "472.12", None)])
    assert too_old.build is CPU and "472.12" in too_old.problem


def test_forced_build_and_unknown_names() -> None:
    assert choose([gpu("RTX 4090", "581.57", (8, 9))], forced="cu132").build.id == "cu132"
    assert choose([], forced="cu126").build is CU126
    with pytest.raises(ValueError, match="unknown build"):
        choose([], forced="cu999")


def test_experimental_build_is_never_chosen_by_itself() -> None:
    for card in (gpu("RTX 5090", "600.00", (12, 0)), gpu("RTX 4090", "600.00", (8, 9))):
        assert choose([card]).build.automatic
        assert all(b.automatic for b in usable_for(card))


@pytest.mark.parametrize(
    ("build", "cc", "runs"),
    [
        (CU126, (8, 9), True),  # sm_86 cubins run on Ada
        (CU126, (6, 1), True),  # sm_60 cubins run on GP10x
        (CU126, (12, 0), False),  # no PTX in Windows wheels: no Blackwell
        (CU126, (3, 7), False),
        (CU130, (12, 1), True),
        (CU130, (10, 3), True),
        (CU130, (6, 1), False),  # CUDA 13 dropped everything before Turing
        (CU130, (7, 0), False),
    ],
)
def test_runs_on(build: builds.TorchBuild, cc: tuple[int, int], runs: bool) -> None:
    assert build.runs_on(cc) is runs


def test_usable_for_orders_full_support_before_compatibility() -> None:
    assert usable_for(gpu("RTX 4090", "581.57", (8, 9))) == [CU130, CU126, CPU]
    assert usable_for(gpu("RTX 4090", "566.36", (8, 9))) == [CU126, CPU]
    assert usable_for(gpu("GTX 1080", "581.57", (6, 1))) == [CU126, CPU]
    assert usable_for(None) == [CPU]


def test_index_urls() -> None:
    assert CU130.index_url == "https://download.pytorch.org/whl/cu130"
    assert CPU.index_url == "https://download.pytorch.org/whl/cpu"


@pytest.mark.parametrize(
    ("text", "version", "shown"),
    [
        ("581.57", (581, 57), "581.57"),
        ("580.65.06", (580, 65, 6), "580.65.06"),
        (" 560.70 ", (560, 70), "560.70"),
    ],
)
def test_driver_versions(text: str, version: tuple[int, ...], shown: str) -> None:
    assert parse_version(text) == version
    assert format_version(version) == shown


@pytest.mark.parametrize("bad", ["", "[N/A]", "581.57a", "five"])
def test_driver_version_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_version(bad)
