"""The `metric-detector` model: fitting it on a sandbox training window, saving and loading it.

Fitting calibrates the robust detector's z threshold (1.25 x the 99.999th percentile of |robust
z| over the training window, never below 4) and fits one IsolationForest per service over its
golden signals; the version's manifest records the scores on the sandbox fault suite (tuning
seeds only; the benchmark's held-out seeds stay unseen).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tools.anomaly.multivariate import ServiceForest, features
from tools.anomaly.registry import Manifest, ModelError, ModelRegistry
from tools.anomaly.robust import RobustConfig, score_series
from tools.anomaly.suite import (
    TUNING_SEEDS,
    WARMUP_S,
    SeriesSet,
    SuiteScore,
    fault_suite,
    run_suite,
    sandbox_config,
    sandbox_series,
    score_sandbox,
)
from tools.catalog import GOLDEN_SIGNALS
from tools.sandbox.simulator import Sandbox, load_sandbox

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine

    from tools.anomaly.shadow import ShadowRecorder

log = logging.getLogger(__name__)

MODEL_NAME = "metric-detector"
CALIBRATION_QUANTILE = 0.99999
CALIBRATION_MARGIN = 1.25


@dataclass
class MetricDetector:
    config: RobustConfig
    forests: dict[str, ServiceForest]


def calibrate_threshold(values: np.ndarray, base: RobustConfig, warmup: int) -> float:
    """z threshold from normal data: nothing is flagged while measuring, so the baseline sees
    every sample."""
    probe = dataclasses.replace(base, z_threshold=1000.0, cusum_h=1e9, rel_floor=0.0)
    scores = score_series(values, probe, 0.0)
    z = np.abs(scores.v[:, warmup:]) * 1000.0
    return float(max(4.0, CALIBRATION_MARGIN * np.quantile(z, CALIBRATION_QUANTILE)))


@dataclass
class TrainingData:
    """The series a version is fitted on, the services they belong to, and where they came
    from (recorded in the manifest, with a fingerprint of the values)."""

    series: SeriesSet
    services: list[str]
    step: int
    training: dict[str, Any]

    @property
    def span_s(self) -> float:
        ts = self.series.timestamps
        return float(ts[-1] - ts[0]) + self.step if len(ts) else 0.0


def sandbox_training(scenario: str = "quiet", window_s: int | None = None) -> TrainingData:
    """A sandbox scenario (name or YAML path): its series, the last `window_s` seconds of
    them when given."""
    return training_from(load_sandbox(scenario), window_s)


def training_from(sb: Sandbox, window_s: int | None = None) -> TrainingData:
    data = sandbox_series(sb)
    if window_s is not None:
        keep = data.timestamps >= sb.end - window_s
        data = SeriesSet(data.keys, data.timestamps[keep], data.values[:, keep], data.min_change)
    digest = hashlib.sha256()
    digest.update(json.dumps(data.keys).encode())
    digest.update(np.ascontiguousarray(data.timestamps, dtype=float).tobytes())
    digest.update(np.ascontiguousarray(data.values, dtype=float).tobytes())
    start, end = (int(data.timestamps[0]), int(data.timestamps[-1]) + sb.step) \
        if len(data.timestamps) else (int(sb.end), int(sb.end))
    training = {"source": "sandbox", "scenario": sb.scenario.name, "seed": sb.scenario.seed,
                "start": start, "end": end, "step_s": sb.step,
                "fingerprint": "sha256:" + digest.hexdigest()}
    return TrainingData(data, list(sb.topology.names()), sb.step, training)


def fit_detector(sb: Sandbox, base: RobustConfig | None = None) -> MetricDetector:
    return fit_training(training_from(sb), base)


def fit_training(data: TrainingData, base: RobustConfig | None = None) -> MetricDetector:
    series, warm = data.series, WARMUP_S // data.step
    z = calibrate_threshold(series.values, base or RobustConfig(), warm)
    config = sandbox_config(dataclasses.replace(base or RobustConfig(), z_threshold=round(z, 3)))
    scores = score_series(series.values, config, series.min_change)
    forests = {}
    for service in data.services:
        rows = [series.keys.index((service, m)) for m in GOLDEN_SIGNALS]
        forests[service] = ServiceForest.fit(features(scores.v[rows][:, warm:]), GOLDEN_SIGNALS)
    return MetricDetector(config, forests)


def fit_and_save(registry: ModelRegistry, scenario: str = "quiet", evaluate: bool = True,
                 base: RobustConfig | None = None, data: TrainingData | None = None
                 ) -> Manifest:
    """Fit on `data` (default: the whole `scenario`) and save a new version."""
    import joblib

    data = data or sandbox_training(scenario)
    detector = fit_training(data, base)
    buf = io.BytesIO()
    joblib.dump(detector.forests, buf)
    scores = run_suite(fault_suite(TUNING_SEEDS), detector.config).as_dict() if evaluate else {}
    files = {"config.json": json.dumps(detector.config.to_dict(), indent=2).encode(),
             "forests.joblib": buf.getvalue()}
    params = {**detector.config.to_dict(), "forest_signals": list(GOLDEN_SIGNALS),
              "forest_estimators": 100}
    return registry.save(MODEL_NAME, files, data.training, params,
                         {"suite": "sandbox fault suite, tuning seeds", **scores})


def load_config(directory: Path) -> RobustConfig:
    raw: dict[str, Any] = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    return RobustConfig(**raw)


def load_detector(directory: Path) -> MetricDetector:
    import joblib

    return MetricDetector(load_config(directory), joblib.load(directory / "forests.joblib"))


def current_config(registry: ModelRegistry) -> RobustConfig | None:
    """The current fitted detector's configuration (its calibrated threshold), for the running
    copilot; None when none was fitted. A broken model is reported and left out: the built-in
    configuration serves until it is fixed or rolled back."""
    if registry.aliases(MODEL_NAME)["current"] is None:
        return None
    try:
        _, directory = registry.resolve(MODEL_NAME)
        return load_config(directory)
    except (ModelError, OSError, ValueError, TypeError) as exc:
        log.warning("not using the fitted %s: %s", MODEL_NAME, exc)
        return None


def shadow_recorder(registry: ModelRegistry, current: RobustConfig | None,
                    engine: Callable[[], Engine]) -> ShadowRecorder | None:
    """The live shadow for the running copilot when a shadow version exists and loads (its
    sha256 checked); None otherwise (a broken shadow is logged, the copilot runs without it).
    `current` is what `current_config` returned: None means the built-in configuration."""
    from sqlalchemy.exc import SQLAlchemyError

    from tools.anomaly.shadow import BUILTIN, ShadowRecorder

    try:
        aliases = registry.aliases(MODEL_NAME)
        if aliases["shadow"] is None:
            return None
        man, directory = registry.resolve(MODEL_NAME, "shadow")
        config = load_config(directory)
    except (ModelError, OSError, ValueError, TypeError) as exc:
        log.warning("not running the shadow %s: %s", MODEL_NAME, exc)
        return None
    label = aliases["current"] if current is not None and aliases["current"] else BUILTIN
    try:
        return ShadowRecorder(engine(), MODEL_NAME, label, current, man.version, config)
    except SQLAlchemyError as exc:  # the state DB is down: answer without the shadow
        log.warning("not running the shadow %s: state database: %s", MODEL_NAME, exc)
        return None


def shadow_compare(registry: ModelRegistry, scenario: str) -> dict[str, dict[str, Any]]:
    """Current and shadow side by side on one scenario: their event scores there."""
    sb = load_sandbox(scenario)
    out = {}
    for ref in ("current", "shadow"):
        man, directory = registry.resolve(MODEL_NAME, ref)
        total = SuiteScore()
        score_sandbox(sb, load_detector(directory).config, total)
        out[ref] = {"version": man.version, **total.as_dict()}
    return out
