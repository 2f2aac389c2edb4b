"""A training run's page in the admin: its progress as a bar, loss and accuracy per epoch as a chart (SVG drawn
here: no script, nothing from elsewhere) and a table, its results and settings as tables; and the JSON that the
page polls while the run is open (static/recognizer/run_live.js), which carries the same parts, rendered again."""

import math
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.urls import reverse

from recognizer.admin_figures import (
    DASH, before_after, count, figures_html, held_out_summary, name_of, percent, plain, seconds,
)

from recognizer.ml.figures import Change

from .models import TrainingRun

SERIES = [("train", "training"), ("eval", "evaluation")]  # the history's <series>_loss, <series>_accuracy
PARAM_NAMES = {"user_repeats": "Augmented copies of each drawing", "replay": "MNIST images rehearsed, at most",
               "replay_ratio": "MNIST images rehearsed per drawing copy",
               "min_replay": "MNIST images rehearsed, at least", "seed": "Random seed"}
STAGE_NAMES = {"load": "reading", "train": "training", "gate": "gating", "activate": "storing"}


def _stage_times(stage_seconds: dict) -> str:
    """The stages in the order they ran: PostgreSQL's jsonb keeps keys in its own order, not the run's."""
    order = list(STAGE_NAMES) + sorted(set(stage_seconds) - set(STAGE_NAMES))
    return " · ".join(f"{STAGE_NAMES.get(stage, stage)} {seconds(stage_seconds[stage])}"
                      for stage in order if stage in stage_seconds)


@dataclass
class Chart:
    """One quantity per epoch in the SVG's own units: a line and its dots per series, ticks on both axes."""
    title: str
    summary: str
    width: int = 340
    height: int = 190
    left: int = 54
    right: int = 12
    top: int = 12
    bottom: int = 34
    lines: list[dict] = field(default_factory=list)
    y_ticks: list[tuple[str, str]] = field(default_factory=list)
    x_ticks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def right_edge(self) -> int:
        return self.width - self.right


def epoch_chart(history: list[dict], quantity: str, *, planned: int | None = None) -> Chart | None:
    """The chart of ``quantity`` ('loss' or 'accuracy') over the epochs, or None before the first epoch. The axis
    spans the ``planned`` epochs, so that a running run's lines grow to the right."""
    series = [(key, name, [row.get(f"{key}_{quantity}") for row in history]) for key, name in SERIES]
    series = [(key, name, values) for key, name, values in series if any(v is not None for v in values)]
    if not series:
        return None
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    first, last = min(epochs[0], 1), max(epochs[-1], planned or 0)
    shown = percent if quantity == "accuracy" else "{:.3f}".format
    values = [v for _, _, vs in series for v in vs if v is not None]
    low, high = _y_range(values, quantity)
    tick = (lambda share: f"{share * 100:g}\u00a0%") if quantity == "accuracy" else "{:g}".format
    chart = Chart(title=f"{quantity.capitalize()} per epoch",
                  summary="; ".join(f"{name}: {shown(vs[0])} at epoch {epochs[0]}, {shown(vs[-1])} at epoch "
                                    f"{epochs[-1]}" for _, name, vs in series if None not in (vs[0], vs[-1])))
    plot_width, plot_height = chart.width - chart.left - chart.right, chart.height - chart.top - chart.bottom

    # Coordinates as text, never localised by a template (a comma would break the SVG).
    def x(epoch: float) -> str:
        span = last - first
        return f"{chart.left + (plot_width / 2 if not span else plot_width * (epoch - first) / span):.1f}"

    def y(value: float) -> str:
        return f"{chart.top + plot_height * (high - value) / ((high - low) or 1):.1f}"

    for key, name, vs in series:
        dots = [(x(epoch), y(value)) for epoch, value in zip(epochs, vs) if value is not None]
        chart.lines.append({"key": key, "name": name, "dots": dots,
                            "points": " ".join(f"{px},{py}" for px, py in dots)})
    chart.y_ticks = [(y(value), tick(round(value, 6))) for value in (low, (low + high) / 2, high)]
    step = max(1, -(-(last - first + 1) // 10))  # at most ten epoch numbers under the axis
    chart.x_ticks = [(x(epoch), str(epoch)) for epoch in range(first, last + 1, step)]
    return chart


def _y_range(values: list[float], quantity: str) -> tuple[float, float]:
    """Accuracy from a round 10 % below its lowest to 100 %; loss from 0 to a round number above its highest."""
    if quantity == "accuracy":
        return min(0.9, math.floor(min(values) * 10) / 10), 1.0
    top = max(max(values), 1e-6)
    scale = 10 ** math.floor(math.log10(top))
    return 0.0, next(step * scale for step in (1, 2, 2.5, 5, 10) if step * scale >= top)


def progress_html(run: TrainingRun) -> str:
    """The status in words and a bar; while the run is open, where its page asks for news."""
    is_open = run.status in TrainingRun.OPEN
    return render_to_string("admin/training/trainingrun/progress.html", {
        "run": run, "percent": round(run.progress * 100), "open": is_open, "doing": _doing(run),
        "live_url": reverse("admin:training_trainingrun_live", args=[run.pk]) if is_open else None,
    })


def _doing(run: TrainingRun) -> str:
    epochs = run.params.get("epochs")
    if run.status == TrainingRun.Status.QUEUED:
        return "waiting for a training worker"
    if run.status == TrainingRun.Status.RUNNING:
        done = len(run.history)
        return f"epoch {done} of {epochs} done" if done else "reading the drawings"
    return run.get_status_display()


def history_html(run: TrainingRun) -> str:
    """Loss and accuracy per epoch: two charts and the table they are drawn from."""
    series = [(key, name) for key, name in SERIES if any(f"{key}_loss" in row for row in run.history)]
    rows = [(row.get("epoch", i + 1), [(f"{row[f'{key}_loss']:.3f}" if row.get(f"{key}_loss") is not None else DASH,
                                        percent(row.get(f"{key}_accuracy"))) for key, _ in series])
            for i, row in enumerate(run.history)]
    charts = [chart for quantity in ("loss", "accuracy")
              if (chart := epoch_chart(run.history, quantity, planned=run.params.get("epochs")))]
    return render_to_string("admin/training/trainingrun/history.html", {
        "open": run.status in TrainingRun.OPEN, "charts": charts, "series": series, "rows": rows})


def metrics_html(run: TrainingRun) -> str:
    """What the run measured: before and after on MNIST and held-out drawings, the gate, what it left out, time."""
    outcome = run.outcome
    nondigits = outcome.nondigit_recall
    rows = [
        ("Left out, over their session's share", "; ".join(f"session {session}: {count(n)} sample{'s' * (n != 1)}"
                                                           for session, n in (outcome.left_out or {}).items())
         or DASH),
        ("Trained on", f"{count(outcome.trained_on)} drawings" if outcome.trained_on is not None else DASH),
        ("MNIST validation accuracy", _mnist_change(outcome.mnist_validation)),
        ("Held-out drawings (never trained on)", held_out_summary(outcome.held_out)),
        ("Non-digits found", f"{before_after(nondigits.before, nondigits.after)} of {count(nondigits.count)}"
         if nondigits and nondigits.count else DASH),
        ("Quality gate", f"{'✓ passed' if outcome.accepted else '✗ rejected'}: {outcome.gate}"
         if outcome.gate is not None else DASH),
        ("Time", _stage_times(outcome.seconds or {}) or DASH),
    ]
    empty = "Measured once the run has trained." if run.status in TrainingRun.OPEN else "Nothing was measured."
    return figures_html(rows, held_out=outcome.held_out, empty=empty)


def _mnist_change(mnist: Change | None) -> str:
    if mnist is None:
        return DASH
    change = f" ({(mnist.after - mnist.before) * 100:+.2f} points)"
    return f"{before_after(mnist.before, mnist.after)}{change} on {count(mnist.count)} images"


def params_html(run: TrainingRun) -> str:
    rows = [(PARAM_NAMES.get(key, name_of(key)), plain(value)) for key, value in run.params.items()]
    return figures_html(rows, empty="None recorded.")


def run_live_json(run: TrainingRun) -> dict:
    """What a running run's page polls: its status and the parts of the page that change, rendered again."""
    return {"id": run.pk, "status": run.status, "open": run.status in TrainingRun.OPEN,
            "progress": round(run.progress, 4),
            "fields": {"progress_shown": progress_html(run), "history_shown": history_html(run),
                       "metrics_shown": metrics_html(run)}}
