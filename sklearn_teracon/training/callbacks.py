"""skorch callbacks used by every task's training loop."""

from __future__ import annotations

import math

from skorch.callbacks import Callback

from .retention import annealed_scale


class ScaleAnnealing(Callback):
    """Anneal the mask scale s over each epoch's batches, as in HAT.

    Sets ``net.s_current_`` before every training batch; evaluation,
    prediction and the teacher always use ``net.s`` itself.
    """

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        batch_size = net.get_params_for("iterator_train").get(
            "batch_size", net.batch_size
        )
        self.n_batches_ = max(1, math.ceil(len(dataset_train) / batch_size))
        self.batch_ = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            net.s_current_ = annealed_scale(net.s, self.batch_, self.n_batches_)
            self.batch_ += 1
