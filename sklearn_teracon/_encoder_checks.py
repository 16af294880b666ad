"""The estimator's parameter checks: what ``fit`` and inference validate."""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    validate_parameter_constraints,
)
from skorch.callbacks import Callback

from ._sequence_sources import check_sequence_source
from ._sequences import check_padding_value
from ._tasks import _check_task
from .nn import LABELS, NEXT_ITEM
from .strategies import STRATEGIES, get_strategy
from .training import Strategy
from .training.persistence import module_architecture

DEFAULT_TASK = {NEXT_ITEM: "next_item", LABELS: "labels"}

# Upper bounds of the size parameters, far above any useful setting (the
# paper: d=256, 8 blocks, dilations 1 and 4, kernel 3), so that a typo fails
# at fit with a clear error instead of a MemoryError deep inside torch: each
# bound alone, with the other defaults, still builds and trains in well under
# 1 GB. A dilation beyond max_len only ever reads padding.
MAX_EMBEDDING_DIM = 4096
MAX_BLOCKS = 128
MAX_KERNEL_SIZE = 64
MAX_DILATION = 1024
MAX_LEN = 10_000


class EncoderChecks:
    """Parameter validation of :class:`~sklearn_teracon.ContinualUserEncoder`."""

    def _validate_params(self) -> Strategy:
        """Validate every parameter; the call's strategy object, built once."""
        super()._validate_params()
        for name in self._parameter_constraints:
            self._refuse_bool_for_int(name)
        self._check_padding_value()
        self._check_callbacks()
        return self._strategy()  # strategy_params are the strategy's to check

    def _refuse_bool_for_int(self, name: str) -> None:
        # scikit-learn's Integral intervals accept True and False; torch does not.
        value = getattr(self, name)
        integral = any(
            isinstance(c, Interval) and c.type is numbers.Integral
            for c in self._parameter_constraints[name]
        )
        if integral and isinstance(value, bool | np.bool_):
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(self).__name__} must be an "
                f"int, got the bool {value!r} instead."
            )

    def _check_padding_value(self) -> None:
        """Refuse at fit, not at ``save``, a ``padding_value`` no file can hold."""
        problem = check_padding_value(self.padding_value)
        if problem:
            raise InvalidParameterError(
                f"The 'padding_value' parameter of {type(self).__name__} must be "
                "None, a string, a bool, an integer within int64 or a finite "
                f"float (what a model file holds); got {self.padding_value!r}, "
                f"{problem}."
            )

    def _check_callbacks(self) -> None:
        for i, item in enumerate(self.callbacks or []):
            named = isinstance(item, tuple) and len(item) == 2
            cb = item[1] if named else item
            is_callback = isinstance(cb, Callback) or (
                isinstance(cb, type) and issubclass(cb, Callback)
            )
            if not is_callback or (named and not isinstance(item[0], str)):
                raise InvalidParameterError(
                    f"The 'callbacks' parameter of {type(self).__name__} must be "
                    "a list of skorch callbacks (Callback instances or classes) "
                    "or (name, callback) tuples with a string name; callbacks"
                    f"[{i}] is {item!r} of type {type(item).__name__}."
                )

    def _validate_input_params(self) -> None:
        """Validate what reading ``X`` uses: ``max_len`` and ``padding_value``.

        Inference checks them again: ``set_params`` may have changed them on
        the fitted encoder. A new ``max_len`` is fine (the network is
        convolutional): it only sets how many recent items are read.
        """
        validate_parameter_constraints(
            {"max_len": self._parameter_constraints["max_len"]},
            {"max_len": self.max_len},
            caller_name=type(self).__name__,
        )
        self._refuse_bool_for_int("max_len")
        self._check_padding_value()

    def _source(self, X):
        """``X`` as a source of :class:`SequenceStore` chunks, checked."""
        self._validate_input_params()
        return check_sequence_source(X, padding_value=self.padding_value)

    def _task_name(self, task, kind, tasks) -> str:
        task = _check_task(task)
        if task is not None:
            return task
        if kind == NEXT_ITEM:
            return DEFAULT_TASK[NEXT_ITEM]
        labelled = [name for name, rec in tasks.items() if rec.kind == LABELS]
        return labelled[-1] if labelled else DEFAULT_TASK[LABELS]

    def _next_seed(self, keep_tasks: bool) -> int:
        if isinstance(self.random_state, numbers.Integral):
            call = self.n_partial_fits_ if keep_tasks else 0
            return int(
                np.random.SeedSequence([self.random_state, call]).generate_state(1)[0]
            )
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _validation_share(self, n_samples: int) -> float:
        """``validation_fraction``, 0 when it would hold out no user; all is refused."""
        if int(n_samples * self.validation_fraction) < 1:
            return 0.0
        # The split (scikit-learn's) holds out ceil(fraction × n) users.
        n_held = math.ceil(self.validation_fraction * n_samples)
        if n_held >= n_samples:
            raise ValueError(
                f"validation_fraction={self.validation_fraction!r} holds out "
                f"{n_held} of the {n_samples} users of this call, leaving none "
                "to train on: lower validation_fraction (below "
                f"{(n_samples - 1) / n_samples:.3g} for {n_samples} users), or "
                "set it to 0 to train without validation"
            )
        return self.validation_fraction

    def _strategy(self):
        """A new object of the ``strategy`` with its parameters, validated.

        Estimator parameters that the strategy reads (TERACON's ``c``,
        ``alpha``, ...) are passed on; ``strategy_params`` may not repeat them.
        """
        if self.strategy not in STRATEGIES:  # registered after import, or not
            raise InvalidParameterError(
                f"The 'strategy' parameter of {type(self).__name__} must be one of "
                f"{sorted(STRATEGIES)} (sklearn_teracon.strategies.STRATEGIES); "
                f"got {self.strategy!r}."
            )
        own = dict(self.strategy_params or {})
        estimator_params = STRATEGIES[self.strategy].estimator_params
        repeated = sorted(set(own) & set(estimator_params))
        if repeated:
            raise ValueError(
                f"strategy_params repeats {repeated}: set it as the estimator's "
                f"parameter ({repeated[0]}=...)"
            )
        own.update({name: getattr(self, name) for name in estimator_params})
        return get_strategy(self.strategy, **own)

    def _dilations(self) -> list[int]:
        if self.dilations is None:
            return [(1, 4)[b % 2] for b in range(self.n_blocks)]
        try:
            dilations = np.asarray(self.dilations, dtype=object)
        except ValueError:  # ragged nesting
            dilations = np.empty(0)
        valid = (
            dilations.ndim == 1
            and len(dilations) == self.n_blocks
            and all(
                isinstance(r, numbers.Integral)
                and not isinstance(r, bool)
                and 1 <= r <= MAX_DILATION
                for r in dilations
            )
        )
        if not valid:
            raise ValueError(
                f"dilations must hold n_blocks={self.n_blocks} integers in "
                f"[1, {MAX_DILATION}], one per block; got {self.dilations!r}"
            )
        return [int(r) for r in dilations]

    def _check_architecture(self) -> None:
        """Refuse parameters that no longer describe the fitted network.

        ``partial_fit`` continues the fitted network and ``save`` describes it
        by the parameters, so neither can go on once a parameter that shapes
        the network has changed.
        """
        built = module_architecture(self.net_.module_)
        if self.strategy != self.net_.strategy.name:
            raise ValueError(
                f"strategy={self.strategy!r}, but the fitted network was trained "
                f"with strategy={self.net_.strategy.name!r}, whose per-task state "
                "it holds. Call fit to start over (it forgets every task), or "
                f"set_params(strategy={self.net_.strategy.name!r})"
            )
        # The backbone first; then what shapes it (``module_architecture``).
        wanted = {
            "backbone": self.backbone,
            "embedding_dim": self.embedding_dim,
            "n_blocks": self.n_blocks,
            "kernel_size": self.kernel_size,
            "dilations": self._dilations(),
            "max_len": self.max_len,
        }
        for param, value in wanted.items():
            if param in built and built[param] != value:
                raise ValueError(
                    f"{param}={value!r}, but the fitted network has "
                    f"{param}={built[param]!r}: {param} shapes the network, so "
                    "it cannot change on a fitted encoder. Call fit to start over "
                    f"(it forgets every task), or set_params({param}="
                    f"{built[param]!r}) to keep the tasks learned"
                )


__all__ = [
    "DEFAULT_TASK",
    "MAX_BLOCKS",
    "MAX_DILATION",
    "MAX_EMBEDDING_DIM",
    "MAX_KERNEL_SIZE",
    "MAX_LEN",
    "EncoderChecks",
]
