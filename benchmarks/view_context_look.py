"""What each look of the context look calls car, photo by photo: to tell a mistake the clearing or filling could
mend from one every look shares (which only training mends).

For each photo it writes ``<stem>.png`` into ``--out``: six panels at the working size (the photo squeezed to
the network's square input, as the networks see it), white where each calls car:
1. the photo;
2. the main network at the working size, averaged with the mirrored photo;
3. the main network's own smaller look (``context_look.CONTEXT_SHARE``);
4. the context network's look (``core.models.context_network``; grey where the model holds none);
5. the blend that clears and fills (the context answer weighed against the working size by the rule);
6. the working-size mask as the app makes it (cleared and filled; before the clean-up and the closer looks).

    .venv/bin/python benchmarks/view_context_look.py PHOTO [PHOTO ...] --out DIR [--model default]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.errors import MaskingNetError  # noqa: E402
from core.io.atomic import atomic_path  # noqa: E402
from core.io.imageio import encode_png, read_photo  # noqa: E402
from core.masking.context_look import CONTEXT_SHARE, CONTEXT_WEIGHT, blended, mixed_context  # noqa: E402
from core.masking.inference import Segmenter  # noqa: E402
from core.models.networks.blocks import logits_at, smaller_input_size  # noqa: E402

PANELS = ("photo", "working size", "own smaller look", "context network", "blend", "as the app masks")
CAR, BACKGROUND, ABSENT = 230, 30, 128  # grey levels of a panel


def car_panel(logits: torch.Tensor | None) -> np.ndarray | None:
    """(S, S, 3) uint8: ``CAR`` where the (2, S, S) logits call car, else ``BACKGROUND``; None for None."""
    if logits is None:
        return None
    car = (logits[1] > logits[0]).cpu().numpy()
    return np.repeat(np.where(car, CAR, BACKGROUND).astype(np.uint8)[..., None], 3, axis=2)


@torch.no_grad()
def context_panels(segmenter: Segmenter, rgb: np.ndarray) -> np.ndarray:
    """``PANELS`` of one (H, W, 3) uint8 photo side by side: (S, 6 S, 3) uint8 at the working size S."""
    batch = segmenter.config.preprocess([rgb]).to(segmenter.device)
    side = batch.shape[-1]
    working = (segmenter.model(batch) + segmenter.model(batch.flip(-1)).flip(-1)) / 2
    own_side = smaller_input_size(side, CONTEXT_SHARE)
    own = None if own_side is None else logits_at(segmenter.model, batch, own_side, mirror=True)
    rule, helper = segmenter.config.context_network, segmenter.context_network
    helper_side = None if rule is None or helper is None else smaller_input_size(side, rule.size_share)
    network = None if helper_side is None else logits_at(helper, batch, helper_side, mirror=True)
    if network is not None and own is not None:
        context, weight = mixed_context(own, network, rule.own_share), rule.weight
    else:
        context, weight = own, CONTEXT_WEIGHT
    blend = None if context is None else blended(working, context, weight)
    app = torch.from_numpy(segmenter.probabilities(batch)[0])
    squeezed = segmenter.config.preprocess.resize(rgb)
    panels = [squeezed] + [car_panel(None if logits is None else logits[0]) for logits in (working, own, network, blend)]
    panels.append(car_panel(torch.stack([0.5 - app, app - 0.5])))
    return np.concatenate([np.full((side, side, 3), ABSENT, np.uint8) if panel is None else panel
                           for panel in panels], axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the panels")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    torch.set_num_threads(2)
    segmenter = Segmenter.load(args.model, device="cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    print("panels, left to right: " + " | ".join(PANELS))
    for path in args.photos:
        try:
            panels = context_panels(segmenter, read_photo(path).rgb)
        except MaskingNetError as error:
            print(f"skipped: {error}")
            continue
        with atomic_path(args.out / f"{path.stem}.png") as temp:
            temp.write_bytes(encode_png(panels))
        print(args.out / f"{path.stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
