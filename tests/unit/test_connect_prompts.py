"""prompts/connect/: the u-law copies Amazon Connect plays are the committed PCM prompts, converted."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import pytest

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def _load_ulaw() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ulaw", PROMPTS / "ulaw.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("source", sorted(PROMPTS.glob("*.wav")), ids=lambda p: p.name)
def test_every_prompt_has_a_connect_copy_in_8_khz_mono_ulaw(source: Path) -> None:
    copy = (PROMPTS / "connect" / source.name).read_bytes()
    fmt_tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", copy[20:36])
    assert copy[:4] == b"RIFF"
    assert copy[8:12] == b"WAVE"
    assert (fmt_tag, channels, rate, bits) == (7, 1, 8000, 8)
    with wave.open(str(source), "rb") as pcm:
        samples = pcm.getnframes()
    data_at = copy.index(b"data")
    assert struct.unpack("<I", copy[data_at + 4 : data_at + 8])[0] == samples


def test_the_encoder_is_g711() -> None:
    ulaw = _load_ulaw()
    encode = ulaw.ulaw_byte  # type: ignore[attr-defined]
    assert encode(0) == 0xFF
    assert encode(-1) == 0x7F
    assert encode(32767) == 0x80
    assert encode(-32768) == 0x00
