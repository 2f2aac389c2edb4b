"""Figures as staff read them on admin pages: percentages to 0.01 %, seconds to 0.1 s, counts with separators, in
tables, never a 16-digit float or raw JSON. A version's figures here; a training run's in training/admin_figures.py.
They are read through their types (recognizer/ml/figures.py), never from the stored JSON."""

from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from .ml.figures import HeldOut, Scores, VersionFigures

DASH = "—"


def percent(share: float | None) -> str:
    """0.99687 -> '99.69 %'; the space is a non-breaking one, so that a number and its sign stay together."""
    return DASH if share is None else f"{share * 100:.2f}\u00a0%"


def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}\u00a0s"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def before_after(before: float | None, after: float | None) -> str:
    """'99.60 % → 99.58 %', or the one figure there is."""
    if before is None or after is None:
        return percent(after if before is None else before)
    return f"{percent(before)} → {percent(after)}"


def plain(value: Any) -> str:
    """Any setting or figure, readable: a float to four significant digits, a list or dict in words."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {plain(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(plain(item) for item in value)
    return str(value)


def name_of(key: str) -> str:
    """'mnist_test_accuracy' -> 'MNIST test accuracy'."""
    return key.replace("_", " ").capitalize().replace("Mnist", "MNIST").replace("mnist", "MNIST")


def held_out_rows(held_out: HeldOut | None) -> list[tuple[str, str, str, str]]:
    """A held-out record per digit: digit, drawings, accuracy before and after."""
    per_digit = held_out.per_digit if held_out else {}
    return [(digit, count(row.get("count")), percent(row.get("before")), percent(row.get("after")))
            for digit, row in sorted(per_digit.items())]


def figures_html(rows: list[tuple[str, str]], *, per_digit: dict[str, list[float]] | None = None,
                 held_out: HeldOut | None = None, empty: str = "None recorded.") -> str:
    """Figures as tables (templates/admin/figures.html): ``rows`` of name and value (a missing figure left out),
    accuracy per digit (a row a digit, a column per set of images), and a held-out record's digits."""
    per_digit = per_digit or {}
    return render_to_string("admin/figures.html", {
        "rows": [(name, value) for name, value in rows if value != DASH], "per_digit_names": list(per_digit),
        "per_digit": [(digit, [percent(shares[digit]) for shares in per_digit.values()])
                      for digit in range(min(map(len, per_digit.values()), default=0))],
        "held_out": held_out_rows(held_out), "empty": empty})


def version_figures_html(figures: VersionFigures) -> str:
    """A version's figures: the main ones, accuracy per digit, and held-out drawings per digit."""
    rows = [("MNIST test accuracy", _scores(figures.mnist_test)),
            ("MNIST validation accuracy", _scores(figures.mnist_validation)),
            ("Non-digits found (held-out drawings that are no digit, called so)", percent(figures.nondigit_recall)),
            ("Held-out drawings (never trained on): its parent → this version", held_out_summary(figures.held_out)),
            ("Made by", _run_link(figures.training_run) if figures.training_run else DASH)]
    per_digit = {name: scores.per_digit for name, scores in [("MNIST test", figures.mnist_test),
                                                            ("MNIST validation", figures.mnist_validation)]
                 if scores and scores.per_digit}
    return figures_html(rows, per_digit=per_digit, held_out=figures.held_out,
                        empty="No figures were recorded for this version.")


def held_out_summary(held_out: HeldOut | None) -> str:
    """'80.00 % → 90.00 % of 10', or why there is no such figure."""
    if held_out is None:
        return DASH
    if not held_out.count:
        return "none: too few drawings of any digit to hold some out"
    return f"{before_after(held_out.before, held_out.after)} of {count(held_out.count)}"


def _scores(scores: Scores | None) -> str:
    if scores is None:
        return DASH
    return percent(scores.accuracy) + (f" of {count(scores.count)} images" if scores.count else "")


def _run_link(run_id: int) -> str:
    return format_html('<a href="{}">training run {}</a>', reverse("admin:training_trainingrun_change", args=[run_id]),
                       run_id)
