"""Every training run that made the bundled weights, in order, with its options (``train recipe`` runs those whose
export is missing). The VAE trained on crops, then its decoder and last its encoder on full clips, anchored to what
the denoisers generate; the text encoder trained with a patch-4 transformer, frozen afterwards; toy-t2v in continued
runs, toy-df by diffusion forcing from one more; toy-ar, block-causal, from the bundled toy-df."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..loader import bundled_path

FROZEN_TEXT = "--text-encoder {root}/text-encoder/pipeline"
ANCHORED = "--ema-decay 0.998 --l1-weight 0 --anchor-latents {root}/anchors.pt"
EXPORTS = {"vae": "vae", "latents": "vae", "t2v": "pipeline", "df": "pipeline", "anchors": ""}


@dataclasses.dataclass(frozen=True)
class Step:
    """One run of a ``train`` stage into ``<root>/<name>``; ``{root}`` in ``options`` is the recipe's folder."""

    name: str
    stage: str
    options: str

    def argv(self, root: Path) -> list[str]:
        return [self.stage, "--out", str(Path(root) / self.name), *self.options.format(root=root).split()]

    def export(self, root: Path) -> Path:  # what the run leaves when it has finished
        return Path(root) / self.name / EXPORTS[self.stage]


def t2v_run(name: str, init: str, steps: int, seed: int, *, lr: str = "3e-4", latents: str = "latents",
            clean_first_frame: bool = True) -> Step:
    """A toy-t2v run that continues ``init``'s export on the frozen text encoder, at training shift 5."""
    options = (f"--latents {{root}}/{latents} --init {{root}}/{init}/pipeline {FROZEN_TEXT} --steps {steps} "
               f"--batch-size 32 --lr {lr} --train-shift 5 --seed {seed}")
    return Step(name, "t2v", options + (" --clean-first-frame 0.5 --ema-decay 0.995" if clean_first_frame else ""))


def vae_run(name: str, init: str, steps: int, seed: int, *, lr: str, warmup: int, options: str) -> Step:
    """A fine-tune of ``init``'s exported VAE on full 64×64×17 clips."""
    return Step(name, "vae", f"--init {{root}}/{init}/vae --crop 64 --clip-frames 17 --batch-size 2 --steps {steps} "
                             f"--lr {lr} --warmup {warmup} --seed {seed} {options}")


STEPS = (
    Step("vae-1", "vae", "--steps 1506 --schedule-steps 4000"),
    Step("vae-2", "vae", "--init {root}/vae-1/vae --steps 2500 --warmup 50 --lr 4e-4"),
    Step("latents", "latents", "--vae {root}/vae-2/vae --count 5000"),
    Step("text-encoder", "t2v", "--latents {root}/latents --patch-size 4 --steps 2500 --batch-size 32"),
    Step("t2v-1", "t2v", f"--latents {{root}}/latents {FROZEN_TEXT} --patch-size 2 --steps 2200 --batch-size 32"),
    t2v_run("t2v-2", "t2v-1", 1600, seed=1, clean_first_frame=False),
    t2v_run("t2v-3", "t2v-2", 1700, seed=2, clean_first_frame=False),
    t2v_run("t2v-4", "t2v-3", 1900, seed=4, lr="4e-4"),
    t2v_run("t2v-5", "t2v-4", 750, seed=5),
    t2v_run("t2v-6", "t2v-5", 2000, seed=6),
    t2v_run("t2v-7", "t2v-6", 3000, seed=8),
    vae_run("decoder-1", "latents", 2300, seed=0, lr="2e-4", warmup=50, options="--decoder-only"),
    vae_run("decoder-2", "decoder-1", 1800, seed=1, lr="2e-4", warmup=30, options="--decoder-only"),
    vae_run("decoder-3", "decoder-2", 2000, seed=2, lr="2e-4", warmup=30, options="--decoder-only"),
    vae_run("decoder-4", "decoder-3", 2100, seed=3, lr="1.2e-4", warmup=30, options="--decoder-only"),
    Step("df-anchor", "df", "--latents {root}/latents --init {root}/t2v-7/pipeline --steps 1000 --batch-size 32 "
                            "--lr 2e-4 --seed 11 --ema-decay 0.997"),
    Step("anchors.pt", "anchors", "--model {root}/df-anchor/pipeline --count 64"),
    vae_run("decoder-5", "decoder-4", 3400, seed=5, lr="8e-5", warmup=100, options=f"--decoder-only {ANCHORED}"),
    vae_run("decoder-6", "decoder-5", 3000, seed=6, lr="6e-5", warmup=100,
            options=f"--decoder-only {ANCHORED} --anchor-weight 0.5 --anchor-reference {{root}}/decoder-4/vae"),
    vae_run("encoder", "decoder-6", 1800, seed=8, lr="6e-5", warmup=100,
            options=f"{ANCHORED} --anchor-weight 0.5 --encoder-anchor-weight 0.1"),
    t2v_run("t2v-8", "t2v-7", 3000, seed=9),
    t2v_run("t2v-9", "t2v-8", 3000, seed=10),
    Step("latents-2", "latents", "--vae {root}/encoder/vae --count 5000"),
    t2v_run("t2v-10", "t2v-9", 2500, seed=11, latents="latents-2"),
    t2v_run("t2v-11", "t2v-10", 3000, seed=21, latents="latents-2"),
    t2v_run("t2v-12", "t2v-11", 3000, seed=23, latents="latents-2"),
    Step("df", "df", "--latents {root}/latents-2 --init {root}/t2v-12/pipeline --steps 1600 --batch-size 32 --lr 3e-4 "
                     "--seed 24 --ema-decay 0.997 --mode-weights 0.2 0.1 0.2 0.05 0.45 --start-windows-at-clip-start"),
)
# toy-ar's own runs: the bundled toy-df's VAE encodes the clips, its transformer and text encoder start the fine-tune.
AR_STEPS = (
    Step("ar-latents", "latents", f"--vae {bundled_path('toy-df') / 'vae'} --count 1500"),
    Step("ar", "df", "--latents {root}/ar-latents --init toy-df --causal-block-size 2 --steps 1500 "
                     "--batch-size 32 --lr 2e-4 --seed 31 --ema-decay 0.997 --mode-weights 0.2 0.1 0.2 0.05 0.45 "
                     "--start-windows-at-clip-start"),
)
# The last step of each bundled model (``vae``: the VAE the pipelines share).
TARGETS = {"vae": "encoder", "toy-t2v": "t2v-11", "toy-df": "df", "toy-ar": "ar"}


def steps_for(target: str) -> list[Step]:
    """The steps up to and including ``target``'s last one."""
    steps = AR_STEPS if target == "toy-ar" else STEPS
    return list(steps[: [step.name for step in steps].index(TARGETS[target]) + 1])
