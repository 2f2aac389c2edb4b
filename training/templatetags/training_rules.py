"""Training's rules, for the pages that coach people towards them (the drawing page's hints and steps)."""

from django import template
from django.conf import settings

from training.ml.adapt import HOLDOUT_MIN_PER_DIGIT

register = template.Library()


@register.simple_tag
def holdout_rules() -> dict[str, float]:
    """How a run holds drawings out to test itself: ``fraction`` of each digit's drawings, for every digit with
    at least ``min_per_digit`` of them (training.ml.adapt.split_holdout). The page's coaching asks for that many."""
    return {"min_per_digit": HOLDOUT_MIN_PER_DIGIT, "fraction": settings.HOLDOUT_FRACTION,
            "percent": round(100 * settings.HOLDOUT_FRACTION)}
