"""The context network: a third network, stored in the same checkpoint, that answers the context look
(``core.masking.context_look``) with the main network.

The context look masks each view again at a smaller size and clears the large car regions of the
working-size mask that its answer calls background. The main network keeps parked cars, people and
booths beside the main car (model card, sessions 26-51): every training run that taught it otherwise cost
mirrors. The context network is the main network trained further on crowded lots at the context size, so
it may lose fine detail freely: it only ever clears (and, where the rule's ``fill_region`` says so, fills)
whole large regions, never draws an outline. Its
answer is averaged with the main network's own context answer (``own_share``), and that average weighs
``weight`` in the blend that decides which regions go. The look past the frame's edge leaves it out:
the photo reflected there shows the car doubled, which it may clear. The shipped default holds one since
session 55 (the card's "Session 53" to "Session 55": parked cars cleared, but mirrors joined to cleared
background lost with them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

TENSOR_PREFIX = "context_network."  # the context network's tensors in a checkpoint: this prefix + its state_dict names
FIELD_TOPS = {"own_share": 1.0, "weight": 1.0, "size_share": 1.0, "region_margin": 20.0,
              "fill_region": 1.0}  # each rule field: 0 to this


@dataclass(frozen=True)
class ContextNetworkRule:
    """How the context network's answer counts: the context answer is ``own_share`` x the main network's
    own smaller look + (1 - ``own_share``) x the context network's; it weighs ``weight`` against the
    working-size answer where regions are cleared (1: the context answer alone decides). The context network
    looks at ``size_share`` x the working size (the main network's own smaller look stays at
    ``context_look.CONTEXT_SHARE``). A region is cleared only when the blend calls it background by at least
    ``region_margin`` logits on average (0: any region the blend calls background). With ``fill_region`` above
    0 the blend also fills: each region of at least that share of the working area that the working-size answer
    calls background, the blend car and the car surrounds (``context_look.FILL_SURROUND``) becomes car (0: nothing
    is filled, as in files written before the field)."""

    own_share: float = 0.5
    weight: float = 1.0
    size_share: float = 0.625
    region_margin: float = 0.0
    fill_region: float = 0.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value, top = getattr(self, field.name), FIELD_TOPS[field.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= top:
                raise ValueError(f"{field.name} must be a number from 0 to {top:g}, got {value!r}")
        if self.weight == 0:
            raise ValueError("weight must be above 0: a context network that weighs nothing clears nothing")
        if not 0.0 < self.size_share < 1.0:
            raise ValueError(f"size_share must be above 0 and below 1 (a smaller look), got {self.size_share!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> ContextNetworkRule:
        """Raises ``TypeError`` or ``ValueError`` for anything but ``to_dict``'s fields and types."""
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        names = [field.name for field in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
        return cls(**{name: data.get(name, getattr(cls, name)) for name in names})
