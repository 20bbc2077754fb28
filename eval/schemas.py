"""The files `mmcache eval` writes and reads back, as pydantic models validated on every load.

    items/<method>/<item key>.json   ``ItemRecord``: a ``DoneRecord`` or a ``FailedRecord``
    run_config.json                  ``RunConfig``
    results.json                     ``Results``
    vbench/<method>/summary.json     ``VBenchSummary``
    .mmcache-eval.lock               ``LockOwner``

and those of ``--task vqa``:

    items/<method>/clip-<n>.json     ``VqaRecord`` or ``VqaFailedRecord`` (``status: failed``)
    run_config.json                  ``VqaRunConfig`` (``task: vqa``)
    results.json                     ``VqaResults``

and those of ``--task image``:

    items/<method>/<image>-<seed index>.json   ``ImageRecord`` or ``ImageFailedRecord`` (``status: failed``)
    run_config.json                  ``ImageRunConfig`` (``task: image``)
    results.json                     ``ImageResults``

Unknown keys are kept (newer writers may add fields); a known key with the wrong type or a value
out of range makes the whole file invalid (``mmcache.eval.validated_files`` says which field).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class ItemIdentity(_Schema):
    key: str
    prompt: str
    prompt_index: NonNegativeInt
    seed: NonNegativeInt
    seed_index: NonNegativeInt


class ProcessInfoRecord(_Schema):
    index: NonNegativeInt
    count: PositiveInt
    host: str
    device: str | None = None


class Metrics(_Schema):
    """Per-video scores; ``None`` where a metric was unavailable (the reason is in results.json)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=True, populate_by_name=True)
    psnr_db: float | None = None
    ssim: float | None = None
    lpips: float | None = None
    temporal_flickering: float | None = None
    dynamic_degree: bool | None = Field(default=None, alias="proxy.dynamic_degree")
    adherence: dict[str, Any] = Field(default_factory=dict)


class _RecordBase(_Schema):
    schema_: Literal[1] = Field(alias="schema")
    method: str
    fingerprint: str
    item: ItemIdentity
    process: ProcessInfoRecord
    finished_at: str


class DoneRecord(_RecordBase):
    status: Literal["done"]
    video: str
    video_bytes: NonNegativeInt | None = None
    wall_seconds: Seconds
    denoiser_seconds: Annotated[float, Field(ge=0)] | None = None
    denoiser_calls: NonNegativeInt
    denoiser_computed: NonNegativeInt
    denoiser_macs: NonNegativeInt | None = None
    peak_memory_bytes: NonNegativeInt | None = None
    timeline: str = ""
    frames_shape: Annotated[list[PositiveInt], Field(min_length=4, max_length=4)]
    frames_sha256: str
    metrics: Metrics


class FailedRecord(_RecordBase):
    status: Literal["failed"]
    error: str
    error_detail: str | None = None


ItemRecord = TypeAdapter(Annotated[Union[DoneRecord, FailedRecord], Field(discriminator="status")])


class RunConfig(_Schema):
    """The settings an output folder holds results for (``mmcache.eval.plan.run_config``)."""

    model: str
    steps: PositiveInt
    height: PositiveInt | None = None
    width: PositiveInt | None = None
    num_frames: PositiveInt | None = None
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    dtype: str | None = None
    measure_compute: bool = False
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1)]
    num_prompts: PositiveInt
    prompts_digest: str
    model_weights: str | None = None


class Availability(_Schema):
    available: bool
    reason: str | None = None


class MethodSummary(_Schema):
    label: str
    name: str
    kind: Literal["baseline", "mmcache", "peer"]
    items: NonNegativeInt
    done: NonNegativeInt
    failed: NonNegativeInt
    missing: NonNegativeInt
    speedup_wall: float | None = None
    speedup_denoiser: float | None = None
    speedup_items: NonNegativeInt = 0
    timing_outliers: list[dict[str, Any]] = Field(default_factory=list)


class Results(_Schema):
    """``results.json`` (the top level; per-item rows stay free-form dicts)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=True)
    schema_version: Literal[2]
    generated_at: str
    versions: dict[str, str]
    run: dict[str, Any]
    availability: dict[str, Availability]
    summary: dict[str, MethodSummary]
    vbench: dict[str, Any]
    items: list[dict[str, Any]]


class VBenchSummary(_Schema):
    """What one VBench run on one method's videos gave (reused when its digest matches)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=True)
    digest: str
    status: Literal["done", "partial", "failed"]
    videos: NonNegativeInt
    dimensions: dict[str, float] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    reason: str | None = None


class LockOwner(_Schema):
    """Who holds an output folder: written when a run starts, removed when it ends."""

    pid: PositiveInt
    host: str
    started_at: str
    command: str = ""


Share = Annotated[float, Field(ge=0, le=1)]
Ratio = Annotated[float, Field(ge=0)]
Count = NonNegativeInt | None


class VqaRunConfig(_Schema):
    """The settings an output folder of ``--task vqa`` holds results for (``mmcache.eval.vqa_evaluation``)."""

    task: Literal["vqa"]
    model: str
    model_weights: str | None = None
    dtype: str | None = None


class _PlainTaskRecord(_Schema):
    """What every record of ``--task vqa`` and ``--task image`` starts with."""

    schema_: Literal[1] = Field(alias="schema")
    method: str
    fingerprint: str
    finished_at: str


class _FailedRun(_PlainTaskRecord):
    """Why one (item, method) of a plain-comparison task did not finish (``--retry-failed`` runs it again)."""

    status: Literal["failed"]
    error: str
    error_detail: str | None = None


class _VqaClip(_PlainTaskRecord):
    task: Literal["vqa"]
    clip: NonNegativeInt
    caption: str
    questions: Annotated[list[str], Field(min_length=1)]


class VqaRecord(_VqaClip):
    """One method's answers to the questions about one held-out clip, with their times and KV costs.

    ``plain_seconds`` / ``plain_prefill_seconds``: the plain model's times on the same clip, measured in
    the same loop (the time ratios compare these). KV costs are ``None`` for the plain model."""

    status: Literal["done"] = "done"
    answers: list[str]
    seconds: Seconds
    prefill_seconds: Seconds
    plain_seconds: Seconds
    plain_prefill_seconds: Seconds
    prompt_tokens: Count = None
    prompt_kept: Count = None
    important: Count = None
    kv_bytes_full: Count = None
    kv_bytes_held: Count = None
    flops_dense: Count = None
    flops: Count = None


class VqaFailedRecord(_VqaClip, _FailedRun):
    """A clip one method could not answer."""


class _Outcomes(_Schema):
    """How the planned items of one method of ``--task vqa`` / ``--task image`` ended (``errors``: message → count)."""

    planned: NonNegativeInt
    done: NonNegativeInt
    failed: NonNegativeInt
    missing: NonNegativeInt
    errors: dict[str, NonNegativeInt]


class VqaMethodSummary(_Outcomes):
    """The scores over the clips both this method and the plain model answered (``None``: no such clip)."""

    label: str
    name: str
    kind: Literal["baseline", "mmcache"]
    spec: str
    params: dict[str, Any]
    items: NonNegativeInt
    accuracy: Share | None
    by_kind: dict[str, Share | None]
    agreement: Share | None
    prompt_kept: Share | None
    important: Share | None = None
    kv_bytes: Ratio | None
    flops: Ratio | None
    time: Ratio | None
    prefill_time: Ratio | None


class VqaResults(_Schema):
    """``results.json`` of ``--task vqa``."""

    schema_version: Literal[2]
    task: Literal["vqa"]
    generated_at: str
    versions: dict[str, str]
    run: dict[str, Any]
    summary: dict[str, VqaMethodSummary]
    clips: list[dict[str, Any]]


class ImageRunConfig(_Schema):
    """The settings an output folder of ``--task image`` holds results for (``mmcache.eval.image_evaluation``)."""

    task: Literal["image"]
    model: str
    model_weights: str | None = None
    dtype: str | None = None
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1)]


class ScaleKVRatios(_Schema):
    """Peak KV bytes, KV bytes held between scales and attention FLOPs over the plain cache's."""

    kv_bytes_peak: Ratio | None = None
    kv_bytes_held: Ratio | None = None
    attention_flops: Ratio | None = None


class _ImagePlace(_PlainTaskRecord):
    task: Literal["image"]
    image: NonNegativeInt
    seed_index: NonNegativeInt
    seed: NonNegativeInt
    caption: str


class ImageRecord(_ImagePlace):
    """One method's image of one held-out caption and seed: its file, time, adherence and KV costs.

    ``plain_seconds``: the plain pipeline's time on the same image, measured in the same loop (the time
    ratio compares these). ``pixels_sha256``: of the image's uint8 pixels, to recognise its PNG. KV costs
    are ``None`` for the plain pipeline."""

    status: Literal["done"] = "done"
    file: str
    image_shape: Annotated[list[PositiveInt], Field(min_length=3, max_length=3)]
    pixels_sha256: str
    seconds: Seconds
    plain_seconds: Seconds
    colour_ok: bool
    shape_ok: bool | None = None
    kv_bytes_peak: Count = None
    kv_bytes_held: Count = None
    attention_flops: Count = None
    ratios: ScaleKVRatios | None = None


class ImageFailedRecord(_ImagePlace, _FailedRun):
    """An image one method could not make."""


class ImageMethodSummary(_Outcomes):
    """The scores over the images both this method and the plain pipeline made (``None``: no such image)."""

    label: str
    name: str
    kind: Literal["baseline", "mmcache"]
    spec: str
    params: dict[str, Any]
    images: NonNegativeInt
    psnr_db: float | None
    ssim: float | None
    identical: NonNegativeInt
    colour: Share | None
    shape: Share | None = None
    kv_bytes_peak: Ratio | None
    kv_bytes_held: Ratio | None
    attention_flops: Ratio | None
    time: Ratio | None


class ImageResults(_Schema):
    """``results.json`` of ``--task image``."""

    schema_version: Literal[2]
    task: Literal["image"]
    generated_at: str
    versions: dict[str, str]
    run: dict[str, Any]
    summary: dict[str, ImageMethodSummary]
    images: list[dict[str, Any]]
