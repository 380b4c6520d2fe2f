"""The rules that pick a fine-tune's weights in benchmarks/bench_finetune_epochs.py."""

from __future__ import annotations

from benchmarks.bench_finetune_epochs import RULES, TOLERANCE, best, best_of_second_half, latest_within_tolerance, second_half


def test_each_rule_picks_the_epochs_it_names():
    # an early spike (epoch 3), a tie at the top later on, a last epoch just under it
    val = {1: 0.90, 2: 0.95, 3: 0.984, 4: 0.97, 5: 0.98, 6: 0.981, 7: 0.981, 8: 0.980}
    assert best(val) == [3]  # the first of the best, as the app keeps
    assert second_half(val) == [5, 6, 7, 8]  # the rate halves after half the epochs
    assert best_of_second_half(val) == [6]  # the first of the tie
    assert latest_within_tolerance(val) == [8]  # 0.980 >= 0.984 - 0.005
    assert latest_within_tolerance({**val, 8: 0.984 - TOLERANCE - 0.001}) == [7]
    picks = {name: rule(val) for name, rule in RULES.items()}
    assert picks["last epoch"] == [8] and picks["average of the last 6 epochs"] == [3, 4, 5, 6, 7, 8]
    assert picks["average of the second half"] == [5, 6, 7, 8]


def test_the_second_half_starts_where_the_fine_tune_halves_its_learning_rate(tiny_checkpoint):
    from core.training.finetune import FinetuneSettings, train_config
    from core.training.train import learning_rate

    for epochs in (5, 24, 25):
        config = train_config(FinetuneSettings(name="x", base_model=str(tiny_checkpoint), epochs=epochs),
                              tiny_checkpoint)
        first_halved = next(epoch for epoch in range(1, epochs + 1) if learning_rate(config, epoch - 1) < config.lr)
        assert second_half({epoch: 0.9 for epoch in range(1, epochs + 1)})[0] == first_halved
