"""What a simulated caller "says" into a voicemail, as the WAV file PSTN Audio would write.

The recording is 8 kHz mono 16-bit PCM, the telephone format. The words are spoken by espeak-ng
when it is installed (``apt-get install espeak-ng``), so a person can play the message and a
speech recogniser could hear it; without it (a clean CI machine) each word is a short tone, which
still has sound where the caller spoke and silence where they did not. Either way the file lasts
exactly as long as the simulated recording did: speech first, then silence.
"""

from __future__ import annotations

import array
import io
import math
import shutil
import subprocess
import sys
import wave

SAMPLE_RATE = 8000
_WORD_SECONDS = 0.3
_GAP_SECONDS = 0.1
_AMPLITUDE = 8000
_ESPEAK_TIMEOUT_SECONDS = 10


def caller_recording(text: str, speech_seconds: float, total_seconds: float) -> bytes:
    """A WAV of ``text`` spoken within ``speech_seconds``, padded with silence to ``total_seconds``."""
    total = max(0, round(total_seconds * SAMPLE_RATE))
    speech = _spoken(text) if text.strip() else array.array("h")
    speech = speech[: min(total, max(0, round(speech_seconds * SAMPLE_RATE)))]
    samples = speech + array.array("h", bytes(2 * (total - len(speech))))
    return _wav(samples)


def speech_engine() -> str:
    """``espeak-ng`` when the caller's words are real speech, ``tones`` otherwise."""
    return "espeak-ng" if shutil.which("espeak-ng") else "tones"


def _spoken(text: str) -> array.array[int]:
    if shutil.which("espeak-ng"):
        try:
            return _espeak(text)
        except (OSError, subprocess.SubprocessError, wave.Error, EOFError):
            pass  # a broken espeak install still leaves a message with sound in it
    return _tones(text)


def _espeak(text: str) -> array.array[int]:
    program = shutil.which("espeak-ng")
    if program is None:
        raise OSError("espeak-ng is not installed")
    # The words go in on stdin, so a message starting with "-" is never read as an option.
    result = subprocess.run(  # noqa: S603 - fixed program and arguments, no shell
        [program, "-v", "en-us", "-s", "175", "--stdout", "--stdin"],
        input=text.encode(),
        capture_output=True,
        check=True,
        timeout=_ESPEAK_TIMEOUT_SECONDS,
    )
    with wave.open(io.BytesIO(result.stdout), "rb") as audio:
        rate, width, channels = audio.getframerate(), audio.getsampwidth(), audio.getnchannels()
        frames = audio.readframes(audio.getnframes())
    if width != 2 or channels != 1:
        raise wave.Error("espeak-ng did not write mono 16-bit audio")
    source = array.array("h", frames)
    if sys.byteorder == "big":
        source.byteswap()
    return _resample(source, rate)


def _resample(source: array.array[int], rate: int) -> array.array[int]:
    """Linear interpolation to 8 kHz (espeak-ng speaks at 22.05 kHz); good enough for a voice."""
    if rate == SAMPLE_RATE or not source:
        return source
    count = int(len(source) * SAMPLE_RATE / rate)
    step = rate / SAMPLE_RATE
    out = array.array("h", bytes(2 * count))
    last = len(source) - 1
    for index in range(count):
        position = index * step
        low = min(int(position), last)
        high = min(low + 1, last)
        fraction = position - low
        out[index] = int(source[low] + (source[high] - source[low]) * fraction)
    return out


def _tones(text: str) -> array.array[int]:
    """One short tone per word, its pitch from the word, with a gap between words."""
    samples = array.array("h")
    gap = array.array("h", bytes(2 * round(_GAP_SECONDS * SAMPLE_RATE)))
    for word in text.split():
        pitch = 300 + (sum(word.encode()) % 40) * 10
        length = round(_WORD_SECONDS * SAMPLE_RATE)
        samples.extend(
            int(_AMPLITUDE * math.sin(2 * math.pi * pitch * n / SAMPLE_RATE)) for n in range(length)
        )
        samples.extend(gap)
    return samples


def _wav(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(SAMPLE_RATE)
        audio.writeframes(samples.tobytes())
    return buffer.getvalue()
