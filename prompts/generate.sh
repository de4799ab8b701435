#!/usr/bin/env bash
# Regenerate the default prompts (synthetic speech) in the format PSTN Audio plays best:
# uncompressed PCM WAV, 8 kHz, mono, 16-bit signed.
#
#   prompts/generate.sh            # all prompts, next to this script
#   prompts/generate.sh greeting   # only the named ones
#
# Needs espeak-ng and sox (Debian/Ubuntu: apt-get install espeak-ng sox). The voice can be
# changed with ESPEAK_VOICE (default en-us) and the speed, in words per minute, with ESPEAK_SPEED.
# To use real recordings instead, see README.md in this folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
voice="${ESPEAK_VOICE:-en-us}"
speed="${ESPEAK_SPEED:-150}"

declare -A TEXT=(
  [greeting]="Please wait while we connect your call."
  [not_in_service]="The number you have dialed is not in service."
  [failure]="We could not connect your call. Please try again later. Goodbye."
  [error]="Sorry, we are having technical difficulties. Please call again later."
  [please_hold]="Please hold while we connect you."
  [voicemail]="Nobody can take your call right now. Please leave a message after the tone. Your message is recorded. Press the pound key when you are done."
  [thank_you]="Thank you. Your message has been recorded and passed on. Goodbye."
)
# Prompts that end with a tone: the caller's cue to start talking.
declare -A BEEP=([voicemail]=1)

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool is not installed" >&2; exit 1; }
done

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(greeting not_in_service failure error please_hold voicemail thank_you)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for name in "${names[@]}"; do
  text="${TEXT[$name]:-}"
  if [ -z "$text" ]; then
    echo "generate.sh: unknown prompt '$name' (known: ${!TEXT[*]})" >&2
    exit 2
  fi
  espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.wav" "$text"
  # Resample to 8 kHz mono 16-bit PCM; --no-dither keeps the output reproducible.
  if [ -n "${BEEP[$name]:-}" ]; then
    sox --no-dither "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$tmp/$name-8k.wav"
    sox -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/gap.wav" trim 0 0.4
    sox -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/tone.wav" synth 0.5 sine 1000 vol 0.4
    sox --no-dither "$tmp/$name-8k.wav" "$tmp/gap.wav" "$tmp/tone.wav" "$here/$name.wav"
  else
    sox --no-dither "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$here/$name.wav"
  fi
  echo "prompts/$name.wav: $text"
done
# Amazon Connect's u-law copies (prompts/connect/) from the files just written.
python3 "$here/ulaw.py"
echo "prompts/connect/*.wav: u-law copies for Amazon Connect"
