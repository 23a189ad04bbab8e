"""A network run on one row of its batch at a time.

A matrix product of several rows may round differently from the product of one row, and an
episode's physics amplifies a last-bit difference into another episode. Run row by row, a
row's output never depends on the batch it came in, so the SAI SDK's batched runner plays each
env exactly as `soccer-td3 evaluate` plays it alone. The walking skill and every exported
TorchScript actor are wrapped in it (TorchScript: the loop follows the batch's size).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RowByRow(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, rows: Tensor) -> Tensor:
        return torch.cat([self.inner(rows[i : i + 1]) for i in range(rows.shape[0])])
