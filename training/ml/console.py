"""Progress bars for training on the console (management commands)."""

from tqdm import tqdm

from .detector import Progress


def step_bar(description: str) -> tuple[tqdm, Progress]:
    """A bar, and the (step, steps, loss) callback that moves it."""
    bar = tqdm(desc=description, unit="step")

    def progress(step: int, steps: int, loss: float) -> None:
        if bar.total != steps:
            bar.reset(total=steps)
        bar.update()
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    return bar, progress
