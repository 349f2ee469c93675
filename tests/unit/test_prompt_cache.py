"""Prompt files found once, not per call: the library remembers which file (and samples)
a prompt is, and a flow reload (a new or rewritten recording) starts it again."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ivr.flows.reloader import FlowStore
from ivr.speech.audio import write_wav
from ivr.telephony.channel import PromptLibrary

ROOT = Path(__file__).resolve().parents[2]


class CountingSynth:
    """A Synthesizer that writes a tone per text and counts what it was asked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.renders = 0
        self.imports = 0

    def render(self, text: str, lang: str, profile: str) -> Path:
        self.renders += 1
        out = self.folder / f"tts-{abs(hash((text, lang, profile)))}.wav"
        write_wav(out, np.full(800, 1000, dtype=np.int16))
        return out

    def import_recording(self, recording: Path) -> Path:
        self.imports += 1
        out = self.folder / f"rec-{recording.stat().st_mtime_ns}.wav"
        shutil.copy(recording, out)
        return out


async def test_a_prompt_is_looked_up_once(tmp_path):
    synth = CountingSynth(tmp_path)
    library = PromptLibrary(synth, "/sounds/")  # type: ignore[arg-type]
    for _ in range(5):
        assert (await library.sound_for("Hello", "en-US", "normal")).startswith("/sounds/tts-")
        assert len(await library.pcm_for("Hello", "en-US", "normal")) == 1600
    assert synth.renders == 1
    await library.sound_for("Hello", "en-US", "slower")
    assert synth.renders == 2  # another profile is another file


async def test_a_flow_reload_forgets_the_files(tmp_path):
    dialplans, prompts = tmp_path / "dialplans", tmp_path / "prompts"
    shutil.copytree(ROOT / "dialplans", dialplans, ignore=shutil.ignore_patterns("tests"))
    shutil.copytree(ROOT / "prompts", prompts)
    store = FlowStore(dialplans, prompts)
    store.load()
    assert store.recordings() is store.recordings()  # no stat per call
    synth = CountingSynth(tmp_path)
    library = PromptLibrary(synth, "/sounds")  # type: ignore[arg-type]
    lang, texts = next(iter(store.current.prompts.items()))
    prompt_id, text = next(iter(texts.items()))

    library.use_recordings(store.recordings())
    await library.sound_for(text, lang, "normal")
    library.use_recordings(store.recordings())  # the next call: same set, same files
    await library.sound_for(text, lang, "normal")
    assert (synth.renders, synth.imports) == (1, 0)

    (prompts / lang).mkdir(exist_ok=True)  # a recorded prompt is added: the set reloads
    write_wav(prompts / lang / f"{prompt_id}.wav", np.full(1600, 500, dtype=np.int16))
    store.load()
    library.use_recordings(store.recordings())
    assert (await library.sound_for(text, lang, "normal")).startswith("/sounds/rec-")
    assert synth.imports == 1
