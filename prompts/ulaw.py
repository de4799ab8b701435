"""Write the Amazon Connect copies of the prompts: 8 kHz mono G.711 u-law WAV in prompts/connect/.

Connect plays S3 prompts only as u-law WAV; PSTN Audio wants the 16-bit PCM files next to this
script. `audioop` is gone from Python 3.13, so the encoder is the G.711 formula itself.

    python prompts/ulaw.py        # regenerate every prompts/connect/<name>.wav from prompts/<name>.wav
"""

from __future__ import annotations

import struct
import sys
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIAS, CLIP = 0x84, 32635
WAVE_FORMAT_MULAW = 7


def ulaw_byte(sample: int) -> int:
    """One 16-bit linear sample as a G.711 u-law byte."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), CLIP) + BIAS
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def convert(source: Path, target: Path) -> None:
    with wave.open(str(source), "rb") as audio:
        if (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) != (1, 2, 8000):
            raise ValueError(f"{source.name}: expected 8 kHz mono 16-bit PCM")
        frames = audio.readframes(audio.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    data = bytes(ulaw_byte(s) for s in samples)
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, 8000, 8000, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    target.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def main() -> int:
    out = HERE / "connect"
    out.mkdir(exist_ok=True)
    for source in sorted(HERE.glob("*.wav")):
        convert(source, out / source.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
