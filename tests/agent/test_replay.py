import numpy as np
import torch

from soccer_td3.agent.replay import ReplayBuffer


def _add(buffer: ReplayBuffer, start: int, n: int, terminated: bool = False) -> None:
    rows = np.arange(start, start + n, dtype=np.float32)[:, None]
    buffer.add(
        np.repeat(rows, 3, 1),
        np.repeat(rows, 2, 1),
        rows[:, 0],
        np.repeat(rows + 0.5, 3, 1),
        np.full(n, terminated),
    )


def test_wraps_around_overwriting_the_oldest():
    buffer = ReplayBuffer(5, 3, 2)
    for i in range(7):
        _add(buffer, i, 1)
    assert len(buffer) == 5 and buffer.pos == 2
    assert buffer.contents().rewards[:, 0].tolist() == [5, 6, 2, 3, 4]
    assert torch.equal(buffer.contents().next_obs[0], torch.full((3,), 5.5))


def test_vector_add_wraps_across_the_end():
    buffer = ReplayBuffer(5, 3, 2)
    _add(buffer, 0, 4)
    _add(buffer, 4, 3)
    assert buffer.contents().rewards[:, 0].tolist() == [5, 6, 2, 3, 4] and buffer.pos == 2


def test_samples_only_filled_rows_uniformly():
    buffer = ReplayBuffer(100, 3, 2)
    _add(buffer, 0, 10)
    batch = buffer.sample(5000, torch.Generator().manual_seed(0))
    values = batch.rewards[:, 0]
    assert values.min() == 0 and values.max() == 9
    counts = torch.bincount(values.long(), minlength=10)
    assert counts.min() > 400  # about 500 each
    # a sampled row keeps its fields together
    assert torch.equal(batch.obs[:, 0], values) and torch.equal(batch.next_obs[:, 0], values + 0.5)


def test_dones_record_termination():
    buffer = ReplayBuffer(10, 3, 2)
    _add(buffer, 0, 2, terminated=False)
    _add(buffer, 2, 1, terminated=True)
    assert buffer.contents().dones[:3, 0].tolist() == [0.0, 0.0, 1.0]
