import keras
import numpy as np
import pytest

from compression.training import FineTune, fine_tune
from compression.zoo import build


class EpochLog(keras.callbacks.Callback):
    """Records each epoch's validation accuracy and learning rate."""

    def __init__(self):
        super().__init__()
        self.accuracy, self.rates = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.accuracy.append(logs["val_accuracy"])
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def _val_accuracy(model, data):
    return float(np.mean(model.predict(data.x_val, verbose=0).argmax(axis=1) == data.y_val))


def test_it_stops_when_validation_accuracy_stops_improving_and_keeps_the_best_epoch(digits):
    model = build("lenet", digits.input_shape, digits.num_classes)
    log = EpochLog()
    budget = FineTune(epochs=60, patience=2, batch_size=64, learning_rate=3e-3)
    fine_tune(model, digits, budget, [log])
    ran = len(log.accuracy)
    assert ran < 60
    best = int(np.argmax(log.accuracy))
    # It stopped `patience` epochs after its best one, and holds that epoch's weights.
    assert ran - 1 - best == 2
    assert _val_accuracy(model, digits) == pytest.approx(max(log.accuracy), abs=1e-6)
    assert log.rates[-1] < 3e-3  # the plateau schedule cut the learning rate


def test_it_trains_a_fixed_number_of_epochs_without_a_patience(digits):
    model = build("lenet", digits.input_shape, digits.num_classes)
    log = EpochLog()
    fine_tune(model, digits, FineTune(epochs=3, patience=None, batch_size=256), [log])
    assert len(log.accuracy) == 3
    assert log.rates == [pytest.approx(1e-3)] * 3


@pytest.mark.parametrize(
    "params, name",
    [
        ({"patience": 0}, "patience"),
        ({"patience": 1.5}, "patience"),
        ({"patience": True}, "patience"),
        ({"epochs": -1}, "epochs"),
        ({"epochs": 2.0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_it_rejects_bad_budgets(params, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        FineTune(**params)


def test_it_lists_the_patience_in_its_config():
    config = FineTune(epochs=12, patience=4).get_config()
    assert config == {
        "epochs": 12,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "seed": 0,
        "patience": 4,
    }
    assert FineTune(**config) == FineTune(epochs=12, patience=4)
