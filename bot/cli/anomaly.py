"""`opscopilot anomaly|logs|model ...`: the batch detectors and the detector model lifecycle.

Mounted by `bot.cli`. numpy, scikit-learn and the sandbox are imported inside commands. Bad input
(a missing column, a non-number, unsorted timestamps under `--strict`, an unknown model version)
ends with one line on stderr and exit code 2; outputs are written to a temporary file and renamed
into place.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, TextIO

import typer

from bot.cli.common import UsageError, err, escape, out, user_errors

if TYPE_CHECKING:
    from tools.anomaly.logtemplates import TemplateMiner
    from tools.anomaly.registry import ModelRegistry

anomaly_app = typer.Typer(no_args_is_help=True, help="Score metric series for anomalies.")
logs_app = typer.Typer(no_args_is_help=True, help="Mine log templates.")
model_app = typer.Typer(no_args_is_help=True,
                        help="Fitted detector versions: list, fit, shadow, promote, roll back.")

OutOpt = Annotated[Path | None, typer.Option("--output", "-o",
                                             help="output CSV (default: standard output)")]
MAX_LOG_LINE_BYTES = 1 << 20  # a longer line is cut here (the miner looks at 4 KB anyway)


@contextmanager
def _model_errors() -> Iterator[None]:
    from tools.anomaly.registry import ModelError
    from tools.anomaly.series_io import SeriesError

    try:
        yield
    except (SeriesError, ModelError) as exc:
        raise UsageError(str(exc)) from None


def _write_atomic(path: Path | None, write: Callable[[TextIO], None]) -> None:
    if path is None:
        write(sys.stdout)
        return
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give a file name for the output")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{parent} does not exist: create it or choose another output path")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Progress:
    """Progress of a pass on stderr: a bar redrawn in place on a terminal, a line every tenth
    otherwise (only with --progress); nothing when off. Standard output stays clean. `unit`
    "MB" counts bytes, "lines" lines; a total of 0 is unknown (a pipe): only what was done."""

    def __init__(self, total: int, show: bool, unit: str = "MB") -> None:
        self.total = max(total, 0)
        self.show = show
        self.unit = unit
        self.tty = sys.stderr.isatty()
        self.drawn = -1.0
        self.tenth = -1

    def _amount(self, n: int) -> str:
        return f"{n / 1e6:,.1f}" if self.unit == "MB" else f"{n:,}"

    def update(self, label: str, done: int) -> None:
        if not self.show:
            return
        share = min(done / self.total, 1.0) if self.total else 0.0
        now = time.monotonic()
        if self.tty:
            if now - self.drawn < 0.2 and share < 1.0:
                return
            self.drawn = now
            if self.total:
                bar = "#" * int(share * 30)
                sys.stderr.write(f"\r{label:<8} [{bar:<30}] {share:4.0%} {self._amount(done)}/"
                                 f"{self._amount(self.total)} {self.unit}")
            else:
                sys.stderr.write(f"\r{label:<8} {self._amount(done)} {self.unit}")
        elif not self.total:
            if now - self.drawn < 10.0:  # no tenths of an unknown total: every 10 s
                return
            self.drawn = now
            sys.stderr.write(f"{label} {self._amount(done)} {self.unit}\n")
        elif int(share * 10) > self.tenth:
            self.tenth = int(share * 10)
            sys.stderr.write(f"{label} {share:.0%} ({self._amount(done)}/"
                             f"{self._amount(self.total)} {self.unit})\n")
        sys.stderr.flush()

    def finish(self) -> None:
        """Clear the bar (a terminal) or restart the tenths (for the next pass)."""
        if self.show and self.tty:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()
        self.tenth, self.drawn = -1, -1.0


def _show_progress(flag: bool | None, output: Path | None) -> bool:
    """--progress as given; by default on a terminal, unless the rows are printed there too."""
    if flag is not None:
        return flag
    return sys.stderr.isatty() and (output is not None or not sys.stdout.isatty())


@contextmanager
def _csv_text(path: Path) -> Iterator[tuple[TextIO, Callable[[], int]]]:
    """The CSV as text and a function telling how many bytes of it were read."""
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
        yield fh, raw.tell


@contextmanager
def _regular_file(path: Path) -> Iterator[Path]:
    """`path`, or for a pipe or device (read once only) a temporary copy of it: `anomaly score`
    reads its input twice."""
    if path.is_file() or not path.exists():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="opscopilot-score.") as tmp:
        copy = Path(tmp) / "input.csv"
        with path.open("rb") as src, copy.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        yield copy


@anomaly_app.command("score")
def score(
    input_csv: Annotated[Path, typer.Argument(help="CSV with columns timestamp,value")],
    output: OutOpt = None,
    min_change: Annotated[float, typer.Option(
        help="smallest change (in the series' unit) that may be anomalous")] = 0.0,
    min_rel_change: Annotated[float, typer.Option(
        help="smallest change as a share of the baseline, e.g. 0.2")] = 0.0,
    strict: Annotated[bool, typer.Option(
        help="refuse repeated timestamps and steps back instead of keeping them")] = False,
    progress: Annotated[bool | None, typer.Option(
        help="show bytes read on stderr (default: when stderr is a terminal and the "
             "rows do not go to it)",
        show_default=False)] = None,
) -> None:
    """Add anomaly_score in [0, 1] (0.5 = the calibrated threshold) to each row, causally.

    The file is read twice in chunks (a check, then scoring), never held whole: the scores are
    those of scoring it whole."""
    with user_errors(), _model_errors():
        if min_change < 0 or not 0 <= min_rel_change < 10:
            raise UsageError("--min-change must be >= 0 and --min-rel-change in [0, 10)")
        name = str(input_csv)
        with _regular_file(input_csv) as path:
            _score_file(path, name, output, strict, progress, min_change, min_rel_change)


def _score_file(input_csv: Path, name: str, output: Path | None, strict: bool,
                progress: bool | None, min_change: float, min_rel_change: float) -> None:
    """Check `input_csv` in one pass, then score and write it chunk by chunk in a second."""
    from tools.anomaly.series_io import (
        ScoreStream,
        SeriesError,
        SeriesReader,
        SeriesScan,
        write_rows,
    )

    with _csv_text(input_csv) as (fh, tell):
        bar = _Progress(input_csv.stat().st_size, _show_progress(progress, output))
        reader = SeriesReader(fh, name)
        scan = SeriesScan(name, strict, reader.ti)
        for chunk in reader:
            scan.add(chunk)
            bar.update("checking", tell())
        bar.finish()
    if not scan.rows:
        raise SeriesError(f"{name} has a header but no rows")
    if scan.disorder:
        err.print(f"[yellow]note:[/yellow] {escape(scan.disorder)}")
    stream = ScoreStream(scan, min_change, min_rel_change)
    flagged = 0

    def write(handle: TextIO) -> None:
        nonlocal flagged
        writer = csv.writer(handle, lineterminator="\n")
        with _csv_text(input_csv) as (fh, tell):
            reader = SeriesReader(fh, name)
            writer.writerow([*reader.header, "anomaly_score"])
            for chunk in reader:
                scores = stream.update(chunk.values)
                flagged += int((scores >= 0.5).sum())
                write_rows(writer, chunk.rows, scores)
                bar.update("scoring", tell())
        bar.finish()

    _write_atomic(output, write)
    note = f", {scan.missing} missing values scored 0" if scan.missing else ""
    err.print(f"scored {scan.rows:,} points: {flagged:,} at or above 0.5{note}", markup=False)


_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n\f\x1b"


def _binary(raw: bytes) -> bool:
    """A NUL byte, or over 30 % of the line neither printable nor valid UTF-8."""
    odd = raw.translate(None, _PLAIN_BYTES)
    if not odd:
        return False
    if b"\x00" in odd:
        return True
    text = raw.decode("utf-8", errors="replace")
    bad = sum(1 for c in text if c == "\ufffd" or not c.isprintable() and c not in "\t\r\n\f")
    return bad > 0.3 * len(text)


def _log_lines(fh: IO[bytes], name: str) -> Iterator[str]:
    """Lines as text (invalid UTF-8 replaced); a line longer than MAX_LOG_LINE_BYTES is cut
    there and the rest of it skipped. A stray binary line in a text log is kept (its template
    is `<binary>`, as real exports have them); a file that is mostly binary is refused."""
    number = binary = 0
    while True:
        raw = fh.readline(MAX_LOG_LINE_BYTES)
        if not raw:
            if binary and binary * 2 > number:
                raise UsageError(f"{name} is not a text log: {binary} of its {number:,} lines "
                                 "are binary data")
            return
        number += 1
        if not raw.endswith(b"\n") and len(raw) == MAX_LOG_LINE_BYTES:
            while (rest := fh.readline(MAX_LOG_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
        if _binary(raw):
            binary += 1
            if binary >= 3 and binary * 4 > number:
                raise UsageError(f"{name} is not a text log: binary data on line {number:,}")
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


@logs_app.command("templates")
def templates(
    input_log: Annotated[Path, typer.Argument(
        help="one raw log line per line; headers (time, pid, level, component) are recognised")],
    output: OutOpt = None,
    similarity: Annotated[float, typer.Option(
        help="share of a message's tokens equal to a template's for it to join (0.3 to 0.9)")
    ] = 0.5,
    state: Annotated[Path | None, typer.Option(
        help="miner state (JSON): loaded if it exists, so templates keep their ids and its "
             "header shape and --similarity hold; saved updated after the run")] = None,
    progress: Annotated[bool | None, typer.Option(
        help="show progress on stderr (default: when stderr is a terminal and the rows do "
             "not go to it)", show_default=False)] = None,
) -> None:
    """Write line_id,template_id,template for every line (variable parts as <*>).

    Streams: the log is read once in chunks and mined as it comes, each line's template id is
    kept in a temporary file (4 bytes a line), and the CSV is written from it in a second pass
    with every template in its final form; memory does not grow with the file."""
    with user_errors():
        from tools.anomaly import logstate

        if not 0.3 <= similarity <= 0.9:
            raise UsageError(f"--similarity {similarity}: choose a value from 0.3 to 0.9")
        saved: TemplateMiner | None = None
        if state is not None:
            if state.exists() and not state.is_file():
                raise UsageError(f"--state {state} is not a file")
            if not state.parent.is_dir():  # found now, not after the CSV is written
                raise UsageError(f"--state {state}: {state.parent} does not exist")
            if state.is_file():
                try:
                    saved = logstate.loads(state.read_bytes().decode("utf-8"))
                except (UnicodeDecodeError, logstate.StateError) as exc:
                    reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc
                    raise UsageError(f"--state {state}: {reason}; left as it is") from None
        show = _show_progress(progress, output)
        with tempfile.TemporaryFile(prefix="opscopilot-templates.") as ids:
            miner, count = _mine_log(input_log, saved, similarity, ids, show)
            if not count:
                raise UsageError(f"{input_log} is empty: nothing to mine")
            ids.seek(0)
            _write_atomic(output, lambda handle: _write_templates(handle, miner, ids, count,
                                                                  show))
        if state is not None:
            text = logstate.dumps(miner)

            def save(handle: TextIO) -> None:
                handle.write(text)

            _write_atomic(state, save)
        # Templates as the CSV names them: one merged into another is not counted twice.
        live = sum(1 for t in miner.templates if t.merged_into is None)
        err.print(f"{count:,} lines, {live:,} templates", markup=False)


ID_CHUNK = 1 << 16  # template ids buffered per write to the temporary file


def _mine_log(path: Path, saved: TemplateMiner | None, similarity: float, ids: IO[bytes],
              show: bool) -> tuple[TemplateMiner, int]:
    """First pass: mine `path` line by line, appending each line's template id (as assigned,
    uint32) to `ids`; the miner and the number of lines."""
    from array import array
    from itertools import chain, islice

    from tools.anomaly.logheader import SAMPLE_LINES
    from tools.anomaly.logtemplates import miner_for

    size = path.stat().st_size if path.is_file() else 0
    # A pipe cannot tell its position or size: its progress is the lines mined so far.
    bar = _Progress(size, show) if size else _Progress(0, show, unit="lines")
    count = 0
    with path.open("rb") as fh:
        lines = _log_lines(fh, str(path))
        sample = list(islice(lines, SAMPLE_LINES))  # the header shape is decided once
        miner = saved if saved is not None else miner_for(sample, similarity)
        add = miner.add
        buffer = array("I")
        stream = chain(sample, lines)
        while True:
            buffer.extend(add(line).id for line in islice(stream, ID_CHUNK))
            if not buffer:
                break
            count += len(buffer)
            buffer.tofile(ids)
            del buffer[:]
            bar.update("mining", fh.tell() if size else count)
    bar.finish()
    return miner, count


def _write_templates(handle: TextIO, miner: TemplateMiner, ids: IO[bytes], count: int,
                     show: bool) -> None:
    """Second pass: the CSV from the ids of the first, each template in its final form (one
    merged into another later is that one), its cells quoted once per template."""
    from array import array

    rendered = io.StringIO()
    row_writer = csv.writer(rendered, lineterminator="\n")
    cells = [""]  # by assigned id; ids start at 1
    for tpl in miner.templates:
        final = tpl.resolved()
        row_writer.writerow([f"T{final.id}", final.text])
        cells.append(rendered.getvalue())
        rendered.seek(0)
        rendered.truncate()
    bar = _Progress(count, show, unit="lines")
    handle.write("line_id,template_id,template\n")
    done = 0
    while done < count:
        chunk = array("I")
        chunk.fromfile(ids, min(ID_CHUNK, count - done))
        handle.writelines(f"{i},{cells[t]}" for i, t in enumerate(chunk, start=done + 1))
        done += len(chunk)
        bar.update("writing", done)
    bar.finish()


def _registry() -> ModelRegistry:
    from infra.settings import load_settings
    from tools.anomaly.registry import ModelRegistry

    return ModelRegistry.under(load_settings().resolved_data_dir())


NameArg = Annotated[str, typer.Argument(help="model name")]


@model_app.command("list")
def model_list(
    name: Annotated[str | None, typer.Argument(help="model name (default: every model)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every model (or the one named), its versions and which is current / shadow."""
    with user_errors(), _model_errors():
        if name is not None:
            _known(name)
        reg = _registry()
        rows: list[dict[str, Any]] = []
        for model in reg.names():
            if name is not None and model != name:
                continue
            aliases = reg.aliases(model)
            for version in reg.versions(model):
                man = reg.manifest(model, version)
                role = ("current" if aliases["current"] == version else
                        "shadow" if aliases["shadow"] == version else "")
                rows.append({"name": model, "version": version, "role": role,
                             "created": man.created, "scores": man.scores,
                             "training": man.training})
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        if not rows:
            out.print("no models yet: run `opscopilot model fit metric-detector`")
        for r in rows:
            s = r["scores"]
            quality = (f"precision {s['precision']:.3f} recall {s['recall']:.3f}"
                       if "precision" in s else "not evaluated")
            out.print(f"{r['name']} {r['version']:<4} {r['role']:<8} {r['created']}  "
                      f"trained on {r['training'].get('scenario')}  {quality}", markup=False)


def _known(name: str) -> None:
    from tools.anomaly.models import MODEL_NAME

    if name != MODEL_NAME:
        raise UsageError(f"unknown model {name!r}; the model that can be fitted is {MODEL_NAME}")


@model_app.command("fit")
def model_fit(
    name: NameArg,
    scenario: Annotated[str, typer.Option("--scenario", "-s",
                                          help="sandbox scenario to train on")] = "quiet",
    evaluate: Annotated[bool, typer.Option(
        help="score the new version on the sandbox fault suite (tuning seeds, ~30 s)")] = True,
) -> None:
    """Fit a new version; it becomes current when there is none, else the shadow."""
    with user_errors(), _model_errors():
        _known(name)
        from tools.anomaly.models import fit_and_save

        man = fit_and_save(_registry(), scenario, evaluate=evaluate)
        role = _registry().aliases(name)
        which = "current" if role["current"] == man.version else "shadow"
        out.print(f"{name} {man.version} saved as {which} (z threshold "
                  f"{man.parameters['z_threshold']}); scores: {man.scores}", markup=False)


def _audit(action: str, name: str, aliases: dict[str, Any]) -> None:
    """Who moved which alias, in the audit log (the refit job audits its own outcomes)."""
    import getpass

    from sqlalchemy.exc import SQLAlchemyError

    from infra.audit import AuditLog
    from infra.settings import load_settings

    try:
        AuditLog.from_settings(load_settings()).append(f"cli:{getpass.getuser()}", action,
                                                       name, aliases)
    except SQLAlchemyError as exc:  # the alias moved already: say so, do not fail the command
        err.print(f"[yellow]warning:[/yellow] {action} done but not audited: {escape(str(exc))}")


@model_app.command("promote")
def model_promote(name: NameArg, version: Annotated[str | None, typer.Argument(
        help="version to make current (default: the shadow)")] = None,
        force: Annotated[bool, typer.Option(
            help="promote even when its suite scores fall below the current one's")] = False,
) -> None:
    """Make the shadow (or a named version) current; refused when it scores below it."""
    with user_errors(), _model_errors():
        aliases = _registry().promote(name, version, force=force)
        _audit("model.promote", name, aliases)
        out.print(f"{name}: current is now {aliases['current']}", markup=False)


@model_app.command("rollback")
def model_rollback(name: NameArg) -> None:
    """Make the previous current version current again."""
    with user_errors(), _model_errors():
        aliases = _registry().rollback(name)
        _audit("model.rollback", name, aliases)
        out.print(f"{name}: rolled back, current is now {aliases['current']}", markup=False)


@model_app.command("shadow")
def model_shadow(
    name: NameArg,
    scenario: Annotated[str, typer.Option("--scenario", "-s")] = "bad-deploy-checkout",
) -> None:
    """Run the current and the shadow version side by side on a scenario."""
    with user_errors(), _model_errors():
        _known(name)
        from tools.anomaly.models import shadow_compare

        for ref, res in shadow_compare(_registry(), scenario).items():
            out.print(f"{ref:<8} {res['version']:<4} precision {res['precision']:.3f} "
                      f"recall {res['recall']:.3f} median delay "
                      f"{res['median_delay_samples']} samples "
                      f"({res['true_positives']} TP, {res['false_positives']} FP)", markup=False)


def mount_anomaly_cli(app: typer.Typer) -> None:
    """`anomaly ...`, `logs ...` and `model ...` on the main command (`bot.cli.model` adds the
    model lifecycle commands to `model_app`)."""
    app.add_typer(anomaly_app, name="anomaly")
    app.add_typer(logs_app, name="logs")
    app.add_typer(model_app, name="model")
